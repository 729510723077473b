/**
 * @module
 * Strict validation of CSP violation reports, in both formats browsers send:
 * `application/csp-report` (`report-uri`: one `{"csp-report": {…}}` object) and
 * `application/reports+json` (`report-to`: an array of Reporting API reports, of which only
 * `csp-violation` ones are kept). Every field is bounded; anything else is a LeashError with code
 * ERR_LEASH_CSP_REPORT (the endpoint answers 400).
 */
import type { z as Z } from 'zod';
import { lazy, zod } from '../../config/zod.ts';
import { LeashError } from '../../errors.ts';

/** One violation, whichever format it came in. */
export interface Violation {
  readonly documentUrl: string;
  /** A URL, or a keyword of the report: `inline`, `eval`, `wasm-eval`, `data`, `blob`, `self`, or ''. */
  readonly blockedUrl: string;
  readonly directive: string;
  readonly disposition: 'enforce' | 'report';
  /**
   * The script or stylesheet whose code caused the load, when the browser names one other than
   * the page (Chromium does for fetch, XHR, WebSocket and inserted scripts).
   */
  readonly sourceFile?: string;
}

const MAX_REPORTS = 100;

/** The report formats' schemas, made when the first report arrives (see config/zod.ts). */
const schemas = lazy(() => {
  const z = zod();
  const url = z.string().max(4096);
  const directive = z
    .string()
    .max(64)
    .regex(/^[a-z-]+$/, 'a directive name');
  const disposition = z.enum(['enforce', 'report']);
  return {
    legacy: z.object({
      'csp-report': z.object({
        'document-uri': url,
        'blocked-uri': url.optional(),
        'effective-directive': directive.optional(),
        'violated-directive': z.string().max(4096).optional(),
        disposition: disposition.optional(),
        'source-file': url.optional(),
      }),
    }),
    reporting: z
      .array(
        z.object({
          type: z.string().max(64),
          url: url.optional(),
          body: z.unknown(),
        }),
      )
      .max(MAX_REPORTS, `at most ${MAX_REPORTS} reports in one request`),
    violationBody: z.object({
      documentURL: url,
      blockedURL: url.optional(),
      effectiveDirective: directive,
      disposition: disposition.optional(),
      sourceFile: url.nullish(),
    }),
  };
});

function fail(message: string): never {
  throw new LeashError('ERR_LEASH_CSP_REPORT', `bad CSP report: ${message}`);
}

function issue(error: Z.ZodError): string {
  const first = error.issues[0]!;
  return `${first.path.join('.') || '(body)'}: ${first.message}`;
}

export type ReportFormat = 'csp-report' | 'reports+json';

/** The format a Content-Type names, or undefined when it is neither. */
export function formatOf(contentType: string | undefined): ReportFormat | undefined {
  const media = (contentType ?? '').split(';', 1)[0]!.trim().toLowerCase();
  if (media === 'application/csp-report') return 'csp-report';
  if (media === 'application/reports+json') return 'reports+json';
  return undefined;
}

/** Parses and validates a body; throws ERR_LEASH_CSP_REPORT when it is malformed. */
export function parseReports(text: string, format: ReportFormat): Violation[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    fail('the body is not JSON');
  }
  if (format === 'csp-report') {
    const parsed = schemas().legacy.safeParse(json);
    if (!parsed.success) fail(issue(parsed.error));
    const r = parsed.data['csp-report'];
    const name =
      r['effective-directive'] ?? r['violated-directive']?.trim().split(/\s+/, 1)[0] ?? '';
    if (!/^[a-z-]+$/.test(name)) fail('no directive');
    return [
      {
        documentUrl: r['document-uri'],
        blockedUrl: r['blocked-uri'] ?? '',
        directive: name,
        disposition: r.disposition ?? 'report',
        ...(r['source-file'] ? { sourceFile: r['source-file'] } : {}),
      },
    ];
  }
  const parsed = schemas().reporting.safeParse(json);
  if (!parsed.success) fail(issue(parsed.error));
  const out: Violation[] = [];
  for (const [i, report] of parsed.data.entries()) {
    if (report.type !== 'csp-violation') continue;
    const body = schemas().violationBody.safeParse(report.body);
    if (!body.success) fail(`[${i}].body.${issue(body.error)}`);
    out.push({
      documentUrl: body.data.documentURL,
      blockedUrl: body.data.blockedURL ?? '',
      directive: body.data.effectiveDirective,
      disposition: body.data.disposition ?? 'report',
      ...(body.data.sourceFile ? { sourceFile: body.data.sourceFile } : {}),
    });
  }
  return out;
}
