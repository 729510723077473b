/**
 * @module
 * Google's CSP Evaluator over the policy leash would enforce for each page route. Its findings are
 * what a security reviewer would flag: `'unsafe-inline'`, wildcards, script hosts that may serve
 * JSONP or Angular (bypasses of an allow-list).
 */
import { lazy, loadNow } from '../../lazy.ts';

// csp_evaluator ships CommonJS only; loaded when a policy is first evaluated (`leash policy
// lint`), never in a service.
const evaluator = lazy(() => ({
  ...loadNow<{ CspEvaluator: new (csp: unknown) => { evaluate(): RawFinding[] } }>(
    'csp_evaluator/dist/evaluator.js',
  ),
  ...loadNow<{ CspParser: new (text: string) => { csp: unknown } }>('csp_evaluator/dist/parser.js'),
}));

interface RawFinding {
  readonly severity: number;
  readonly directive: string;
  readonly value?: string;
  readonly description: string;
}

/** The evaluator's severities, by its own numbers (finding.d.ts). */
const SEVERITIES: Record<number, string> = {
  10: 'high',
  20: 'syntax',
  30: 'medium',
  40: 'possibly high',
  45: 'strict-csp',
  50: 'possibly medium',
  60: 'info',
  100: 'none',
};

export interface CspFinding {
  readonly severity: string;
  /** High to possibly-medium findings are warnings; info and strict-CSP advice are not. */
  readonly warning: boolean;
  readonly directive: string;
  readonly value: string | undefined;
  readonly description: string;
}

/** Evaluates a policy (the header's value, without `Content-Security-Policy:`). */
export function evaluatePolicy(policy: string): CspFinding[] {
  const { CspEvaluator, CspParser } = evaluator();
  return new CspEvaluator(new CspParser(policy).csp).evaluate().map((finding) => ({
    severity: SEVERITIES[finding.severity] ?? String(finding.severity),
    warning: finding.severity <= 50 && finding.severity !== 45,
    directive: finding.directive,
    value: finding.value,
    description: finding.description,
  }));
}
