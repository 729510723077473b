/**
 * @module
 * Every warning leash logs has a code, `LEASHWRN<nnn>`, in the `code` field of its JSON line,
 * chosen by the line's `event`; `leash policy lint` prints its findings with codes of the same
 * list (those have a `lint` section instead of an event). `docs/warnings.md` says what each means and what to do; a test
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
  // Findings of `leash policy lint` (a `lint` section instead of a logged event).
  LEASHWRN007: { lint: 'runtime', summary: 'a write anywhere in the temp directory’s root' },
  LEASHWRN008: { lint: 'runtime', summary: 'a write to any depth (`**`)' },
  LEASHWRN009: { lint: 'runtime', summary: 'a grant that covers the app’s own files' },
  LEASHWRN010: {
    lint: 'runtime',
    summary: 'a grant that covers secrets: `.env`, `*.key`, `*.pem`, the policy file',
  },
  LEASHWRN011: {
    lint: 'runtime',
    summary: 'a `@background` grant that covers what many routes each do',
  },
  LEASHWRN012: {
    event: 'csp-pages-unvisited',
    summary:
      'pages served while learning that no browser reported on: their CSP comes from their HTML only',
  },
} as const satisfies Record<
  string,
  | { readonly event: string; readonly summary: string }
  | { readonly lint: string; readonly summary: string }
>;

export type WarningCode = keyof typeof WARNING_CODES;

/** The event a warning is logged as, or undefined for a lint finding. */
export function eventOf(code: WarningCode): string | undefined {
  const warning = WARNING_CODES[code];
  return 'event' in warning ? warning.event : undefined;
}

/** The policy section a lint finding is about, or undefined for a logged warning. */
export function lintOf(code: WarningCode): string | undefined {
  const warning = WARNING_CODES[code];
  return 'lint' in warning ? warning.lint : undefined;
}

const byEvent: ReadonlyMap<string, WarningCode> = new Map(
  (Object.keys(WARNING_CODES) as WarningCode[]).flatMap((code) => {
    const event = eventOf(code);
    return event === undefined ? [] : [[event, code] as const];
  }),
);

/** A lint finding's message with its code first, as `policy lint` prints it. */
export function coded(code: WarningCode, message: string): string {
  return `${code} ${message}`;
}

/** The code of a log line's `event`, if it is a warning leash documents. */
export function warningCode(event: unknown): WarningCode | undefined {
  return typeof event === 'string' ? byEvent.get(event) : undefined;
}
