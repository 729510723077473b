/**
 * @module
 * Every warning leash logs has a code, `LEASHWRN<nnn>`, in the `code` field of its JSON line,
 * chosen by the line's `event`. `docs/warnings.md` says what each means and what to do; a test
 * keeps the list, the docs and the events the code logs in step. A retired code is never reused.
 */

export const WARNING_CODES = {
  LEASHWRN001: {
    event: 'unpatched',
    summary: 'a library leash instruments was loaded without its patch (learn and report)',
  },
  LEASHWRN002: {
    event: 'sql-unparsable',
    summary: 'an SQL statement could not be parsed while learning; it was not learned',
  },
  LEASHWRN003: {
    event: 'csp-key-ephemeral',
    summary: 'the CSP report key could not be stored; reports are signed with a key of this run',
  },
  LEASHWRN004: {
    event: 'csp-html-unreadable',
    summary: 'a page could not be read for the hashes of its inline code; they were not learned',
  },
  LEASHWRN005: {
    event: 'csp-header-failed',
    summary: 'the CSP header could not be set on a response',
  },
  LEASHWRN006: {
    event: 'csp-report-refused',
    summary: 'a CSP report was refused (malformed, too large, unsigned, or over the rate)',
  },
} as const;

export type WarningCode = keyof typeof WARNING_CODES;

const byEvent: ReadonlyMap<string, WarningCode> = new Map(
  (Object.keys(WARNING_CODES) as WarningCode[]).map((code) => [WARNING_CODES[code].event, code]),
);

/** The code of a log line's `event`, if it is a warning leash documents. */
export function warningCode(event: unknown): WarningCode | undefined {
  return typeof event === 'string' ? byEvent.get(event) : undefined;
}
