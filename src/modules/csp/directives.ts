/**
 * @module
 * The directives the csp module learns and sends.
 */

/** Fetch directives: each is `'none'` in the learning policy, so every load is reported. */
export const FETCH_DIRECTIVES = [
  'default-src',
  'script-src',
  'style-src',
  'img-src',
  'font-src',
  'connect-src',
  'media-src',
  'object-src',
  'frame-src',
  'child-src',
  'worker-src',
  'manifest-src',
] as const;

/** Document and navigation directives that do not fall back to default-src. */
export const OTHER_DIRECTIVES = ['base-uri', 'form-action', 'frame-ancestors'] as const;

/** The directives a compiled policy lists, in order. */
export const SENT_DIRECTIVES = [...FETCH_DIRECTIVES, ...OTHER_DIRECTIVES] as const;

/**
 * Every directive a fact may name: the fetch directives, the `-elem`/`-attr` forms browsers
 * report (folded into script-src and style-src when learned), and the others.
 */
export const CSP_DIRECTIVES = [
  ...FETCH_DIRECTIVES,
  'script-src-elem',
  'script-src-attr',
  'style-src-elem',
  'style-src-attr',
  ...OTHER_DIRECTIVES,
] as const;
