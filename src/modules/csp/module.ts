/**
 * @module
 * The csp module: per page route and directive, the sources its pages load.
 * Facts: [route, directive, source].
 */
import { cspSourceKind } from '../../core/kinds/csp-source.ts';
import { literalKind } from '../../core/kinds/literal.ts';
import { defineModule } from '../../module/module.ts';

export const CSP_DIRECTIVES = [
  'default-src',
  'script-src',
  'script-src-elem',
  'script-src-attr',
  'style-src',
  'style-src-elem',
  'style-src-attr',
  'img-src',
  'font-src',
  'connect-src',
  'media-src',
  'object-src',
  'frame-src',
  'child-src',
  'worker-src',
  'manifest-src',
  'base-uri',
  'form-action',
  'frame-ancestors',
] as const;

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
});
