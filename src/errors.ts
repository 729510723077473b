/**
 * @module
 * Every error code leash raises, in one place. `docs/errors.md` has a section per code saying how
 * to fix it; `test/errors.test.ts` keeps the two in step.
 */

export const ERROR_CODES = {
  ERR_LEASH_DENIED: 'a privilege use outside the policy was refused',
  ERR_LEASH_POLICY_PARSE: 'the policy file is not valid JSON',
  ERR_LEASH_POLICY_SCHEMA: 'the policy file does not have the expected shape',
  ERR_LEASH_POLICY_IO: 'the policy file could not be read or written',
  ERR_LEASH_CONFIG: 'the configuration is invalid',
  ERR_LEASH_USAGE: 'a command was called with wrong arguments',
  ERR_LEASH_SQL_UNPARSABLE: 'an SQL statement could not be parsed',
  ERR_LEASH_CSP_REPORT: 'a CSP report was malformed or not signed',
  ERR_LEASH_TOKEN: 'an isolation token was forged, expired or malformed',
  ERR_LEASH_MODULE: 'a module was defined, registered or fed facts against the module API',
  ERR_LEASH_UNPATCHED: 'an instrumented library was loaded without leash’s patch',
  ERR_LEASH_KERNEL: 'the kernel sandbox could not be set up as the policy asks',
  ERR_LEASH_ISOLATE: 'per-route isolation could not start as the policy and config ask',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Codes documented ahead of the feature that raises them (none at present). */
export const RESERVED_CODES: readonly ErrorCode[] = [];

export interface ErrorDetails {
  /** The file the error is about (policy, config). */
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  /** JSON path inside the file, e.g. `$.runtime["GET /"].app`. */
  readonly jsonPath?: string;
  readonly module?: string;
  readonly facts?: readonly string[];
  readonly scope?: string;
  readonly package?: string;
  readonly nearest?: readonly string[];
}

export class LeashError extends Error {
  readonly code: ErrorCode;
  /** Not enumerable: an app that serialises an error it caught does not hand these to a client. */
  declare readonly details: ErrorDetails;

  constructor(
    code: ErrorCode,
    message: string,
    details: ErrorDetails = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'LeashError';
    this.code = code;
    Object.defineProperty(this, 'details', { value: details, enumerable: false });
  }
}

export function isLeashError(error: unknown, code?: ErrorCode): error is LeashError {
  return error instanceof LeashError && (code === undefined || error.code === code);
}

/** `file:line:col` (or `file` alone) as editors and terminals link it. */
export function location(details: ErrorDetails): string {
  if (details.file === undefined) return '';
  if (details.line === undefined) return details.file;
  return `${details.file}:${details.line}:${details.column ?? 1}`;
}
