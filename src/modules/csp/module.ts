/**
 * @module
 * The csp module: per page route and directive, the sources its pages load.
 * Facts: [route, directive, source]. One file per role: directives.ts, header.ts (compiler),
 * endpoint.ts + report.ts (report endpoint and validation), facts.ts (report → facts), inline.ts
 * (inline code hashes), tag.ts (signed report tags), install.ts (hooks in the service).
 */
import { cspSourceKind } from '../../core/kinds/csp-source.ts';
import { literalKind } from '../../core/kinds/literal.ts';
import { defineModule } from '../../module/module.ts';
import { CSP_DIRECTIVES } from './directives.ts';
import { evaluatePolicy } from './evaluate.ts';
import { exportPolicies } from './header.ts';
import { installCsp } from './install.ts';
import { cspSettings } from './settings.ts';

export { CSP_DIRECTIVES };

const sourceKind = cspSourceKind();
const directiveKind = literalKind({
  name: 'directive',
  child: () => sourceKind,
  validate: (key) =>
    (CSP_DIRECTIVES as readonly string[]).includes(key)
      ? undefined
      : `unknown CSP directive; expected one of ${CSP_DIRECTIVES.join(', ')}`,
});
const routeKind = literalKind({ name: 'route', child: () => directiveKind });

export const cspModule = defineModule({
  name: 'csp',
  description: 'Content-Security-Policy sources per page route and directive',
  positions: ['route', 'directive', 'source'],
  root: routeKind,
  lint: (tree) =>
    exportPolicies(tree).flatMap(({ route, header }) =>
      evaluatePolicy(header.replace(/^Content-Security-Policy: /, '')).map((finding) => ({
        path: [route, finding.directive],
        message: `CSP Evaluator (${finding.severity})${finding.value ? ` ${finding.value}` : ''}: ${finding.description}`,
        warning: finding.warning,
      })),
    ),
  // The header each page route would get when enforcing, ready to paste into another server.
  notes: (tree) => exportPolicies(tree).map(({ route, header }) => `${route}: ${header}`),
  install: (host) => installCsp(host).uninstall,
  settings: cspSettings,
});
