/**
 * @module
 * The runtime module: what each route and each package does to files, network, processes,
 * workers, addons and the environment. Facts: [scope, package, capability, resource].
 *
 * Observation while learning: Node's permission-audit channels (when the process runs with
 * `--permission-audit`, as `leash learn` starts it) plus the wrappers, which add host:port and
 * full command lines. Enforcement in process: the wrappers, per scope and package, before the
 * effect. Node's own `--permission` flags (`leash enforce`) add a hard floor for the whole process.
 */

import { packageResolver } from '../../attribution/resolver.ts';
import { literalKind } from '../../core/kinds/literal.ts';
import { enableInstrumentations } from '../../instrument/enable.ts';
import type { Instrumentation } from '../../instrument/instrumentation.ts';
import { defineModule } from '../../module/module.ts';
import { capabilityKind } from './capabilities.ts';
import { createRuntimeContext, type RuntimeContext } from './context.ts';
import { lintRuntime } from './lint.ts';
import { observeAudit } from './observe-audit.ts';
import { observeSqlite } from './observe-sqlite.ts';
import { asksToWrite, stenoInstrumentation } from './steno.ts';
import { undiciInstrumentation } from './undici.ts';
import { wrapChildProcess } from './wrap-child.ts';
import { wrapDnsResolver } from './wrap-dns-resolver.ts';
import { wrapFs } from './wrap-fs.ts';
import { wrapHttpClient } from './wrap-http-client.ts';
import { wrapNet } from './wrap-net.ts';

const packageKind = literalKind({ name: 'package', child: () => capabilityKind });
const scopeKind = literalKind({ name: 'scope', child: () => packageKind });

/** The packages the runtime module patches on the instrumentation layer. */
export function runtimeInstrumentations(
  context: Pick<RuntimeContext, 'check'> & Partial<Pick<RuntimeContext, 'host'>>,
): Instrumentation[] {
  const { host } = context;
  // A policy learned before steno's asks were checked names none: its asks are excused, as they
  // were allowed then (what the queue itself may write is still its @pool rules').
  const unlearned =
    host === undefined ? undefined : (file: string) => () => !asksToWrite(host.tree)(file);
  return [
    undiciInstrumentation((to) => context.check('net.connect', to)),
    stenoInstrumentation((file) => context.check('fs.write', file, unlearned?.(file))),
  ];
}

export const runtimeModule = defineModule({
  name: 'runtime',
  description:
    'files, network, child processes, workers, addons and environment, per route and package',
  positions: ['scope', 'package', 'capability', 'resource'],
  root: scopeKind,
  lint: lintRuntime,
  install(host) {
    const context = createRuntimeContext(host, packageResolver(), host.appRoot);
    const uninstalls = [
      wrapFs(context),
      wrapNet(context),
      wrapDnsResolver(context),
      wrapHttpClient(context),
      wrapChildProcess(context),
      enableInstrumentations(runtimeInstrumentations(context), [], {
        mode: host.mode,
        warn: (message) => host.log.warn({ event: 'unpatched' }, message),
        refuse: host.refuseToStart,
      }),
    ];
    if (host.mode === 'learn') uninstalls.push(observeAudit(context), observeSqlite(context));
    return () => {
      for (const uninstall of uninstalls.reverse()) uninstall();
    };
  },
});
