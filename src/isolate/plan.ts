/**
 * @module
 * What the supervisor works out from the policy before it starts anything: the front door (the one
 * endpoint the service listens on), which rules reach a database file (dropped from every worker's
 * sandbox: only the supervisor opens it), whether a worker may open a file as a database, and each
 * worker's kernel rules (its group's, with its own private port and its proxy instead of the
 * database's port).
 */

import { LOADER } from '../attribution/scope.ts';
import { pathKind } from '../core/kinds/path.ts';
import type { Policy } from '../core/policy.ts';
import { allows, rules } from '../core/tree.ts';
import { LeashError } from '../errors.ts';
import { parseEndpointKey, runtimeGrants } from '../modules/runtime/exporters/grants.ts';
import type { KernelRules } from '../supervisor/kernel/rules.ts';

export interface FrontEndpoint {
  readonly host: string;
  readonly port: number;
}

/** The endpoint the service listens on, from its `net.listen` rule: exactly one, with a port. */
export function frontEndpoint(p: Policy): FrontEndpoint {
  const keys = runtimeGrants(p)['net.listen'].filter((k) => !k.startsWith('/'));
  const tcp = keys.map(parseEndpointKey).filter((e) => /^\d+$/.test(e.port) && e.port !== '0');
  if (tcp.length !== 1)
    throw new LeashError(
      'ERR_LEASH_ISOLATE',
      `--isolate needs the service to listen on one fixed port (the policy's net.listen rules: ${keys.length === 0 ? 'none' : keys.join(', ')}); leash listens there and forwards to the workers`,
    );
  const { host, port } = tcp[0]!;
  return { host: (host ?? '').replace(/^\[(.*)\]$/, '$1'), port: Number(port) };
}

const paths = pathKind();

/** SQLite's own files beside a database: its rollback journal and its write-ahead log. */
const COMPANIONS = ['', '-journal', '-wal', '-shm'];

/**
 * Whether a runtime rule (not the module loader's) is a file rule that reaches a database file or
 * its journal: such a rule stays out of every worker's sandbox (a glob that also covers other files goes with it: at
 * start-up those are the database's directory and its siblings, which the start-up process made).
 */
export function reachesDatabaseFile(rule: readonly string[], files: readonly string[]): boolean {
  const [scope, , capability, resource] = rule;
  // Module loading must keep working; a loader root that holds the database is warned about.
  if (scope === LOADER) return false;
  if (capability !== 'fs.read' && capability !== 'fs.write') return false;
  if (resource === undefined) return false;
  return files.some((file) =>
    COMPANIONS.some((suffix) => paths.matches(resource, `${file}${suffix}`)),
  );
}

/**
 * Whether some scope of the policy grants writing `path`: a worker may have the supervisor open
 * only a database file the service was learned writing (node:sqlite's files are learned so).
 */
export function grantsDatabaseFile(p: Policy, path: string): boolean {
  const t = p.modules.get('runtime');
  if (t === undefined) return false;
  const tried = new Set<string>();
  for (const [scope, pkg, capability] of rules(t)) {
    if (capability !== 'fs.write' || scope === undefined || pkg === undefined) continue;
    const key = `${scope}\n${pkg}`;
    if (tried.has(key)) continue;
    tried.add(key);
    if (allows(t, [scope, pkg, 'fs.write', path], { nearest: false }).allowed) return true;
  }
  return false;
}

/**
 * A worker's kernel rules: its group's, listening only on its private port, connecting to its
 * proxy instead of the database (Landlock decides TCP by port alone).
 */
export function workerKernelRules(
  group: KernelRules,
  worker: {
    readonly port: number;
    readonly proxyPorts: readonly number[];
    readonly databasePorts: readonly number[];
  },
): KernelRules {
  const connect = new Set(group.connect.filter((port) => !worker.databasePorts.includes(port)));
  for (const port of worker.proxyPorts) connect.add(port);
  return {
    ...group,
    bind: [worker.port],
    bindAny: false,
    connect: [...connect].sort((a, b) => a - b),
  };
}

/**
 * Kernel paths of a worker that still reach a database file: a directory rule (`<data>/*.txt`
 * becomes `<data>`) lets the kernel open what the rule meant to exclude.
 */
export function kernelPathsCoveringFiles(kernel: KernelRules, files: readonly string[]): string[] {
  const out: string[] = [];
  for (const path of [...kernel.read, ...kernel.write]) {
    if (files.some((file) => file === path || file.startsWith(`${path.replace(/\/$/, '')}/`)))
      out.push(path);
  }
  return [...new Set(out)];
}
