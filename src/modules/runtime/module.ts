/**
 * @module
 * The runtime module: what each route and each package does to files, network, processes,
 * workers, addons and the environment. Facts: [scope, package, capability, resource].
 */
import { literalKind } from '../../core/kinds/literal.ts';
import { defineModule } from '../../module/module.ts';
import { capabilityKind } from './capabilities.ts';

const packageKind = literalKind({ name: 'package', child: () => capabilityKind });
const scopeKind = literalKind({ name: 'scope', child: () => packageKind });

export const runtimeModule = defineModule({
  name: 'runtime',
  description: 'files, network, child processes, workers, addons and environment, per route and package',
  positions: ['scope', 'package', 'capability', 'resource'],
  root: scopeKind,
});
