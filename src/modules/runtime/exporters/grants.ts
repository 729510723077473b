/**
 * @module
 * What every exporter starts from: the runtime section of a policy as the union over all scopes
 * and packages, one sorted list of resource keys per capability. The operating system's sandboxes
 * (and Node's own permission flags) apply to the whole process, so the per-route and per-package
 * differences stay with leash's in-process enforcement.
 */
import type { Policy } from '../../../core/policy.ts';
import * as tree from '../../../core/tree.ts';
import { type Capability, isCapability } from '../capabilities.ts';

export type RuntimeGrants = { readonly [C in Capability]: readonly string[] };

/** Paths the agent itself needs, as leash path globs (see `agentPaths` in node-flags.ts). */
export interface ExtraPaths {
  /** Leash path globs the process must read besides the policy's (escape literal names). */
  readonly extraRead?: readonly string[];
  /** Leash path globs the process must write besides the policy's. */
  readonly extraWrite?: readonly string[];
}

const EMPTY: Record<Capability, string[]> = {
  'fs.read': [],
  'fs.write': [],
  'net.connect': [],
  'net.listen': [],
  'dns.lookup': [],
  'child.spawn': [],
  'worker.start': [],
  'addon.load': [],
  'wasi.start': [],
  'env.read': [],
};

/** The union of the runtime rules, per capability, deduplicated and sorted. */
export function runtimeGrants(policy: Policy): RuntimeGrants {
  const sets = new Map<Capability, Set<string>>();
  const t = policy.modules.get('runtime');
  if (t !== undefined) {
    for (const rule of tree.rules(t)) {
      // [scope, package, capability, resource]; a hand-written `*` capability ends a rule early
      // and names no resource an exporter could use.
      const [, , capability, resource] = rule;
      if (rule.length !== 4 || capability === undefined || resource === undefined) continue;
      if (!isCapability(capability)) continue;
      const set = sets.get(capability) ?? new Set<string>();
      set.add(resource);
      sets.set(capability, set);
    }
  }
  const out = { ...EMPTY };
  for (const [capability, set] of sets) out[capability] = [...set].sort();
  return out;
}

export function hasRuntimeRules(grants: RuntimeGrants): boolean {
  return Object.values(grants).some((keys) => keys.length > 0);
}

// ---------------------------------------------------------------------------------------------
// Endpoints, as the endpoint kind writes its keys: `host:port`, `[v6]:port`, `*.parent:port`,
// `host:*`, or `\` and an unparsable fact.

export interface EndpointKey {
  readonly key: string;
  /** Host without brackets (`::1`), or undefined for an escaped (unparsable) key. */
  readonly host: string | undefined;
  /** `4` or `6` for an IP address, undefined for a host name or pattern. */
  readonly ip: 4 | 6 | undefined;
  /** Decimal port, or `*`. */
  readonly port: string;
}

const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;

export function parseEndpointKey(key: string): EndpointKey {
  if (key.startsWith('\\')) return { key, host: undefined, ip: undefined, port: '' };
  if (key.startsWith('[')) {
    const close = key.indexOf(']');
    const inner = key.slice(1, close);
    return { key, host: inner, ip: 6, port: key.slice(close + 2) };
  }
  const colon = key.lastIndexOf(':');
  const host = key.slice(0, colon);
  return { key, host, ip: IPV4.test(host) ? 4 : undefined, port: key.slice(colon + 1) };
}

/** Whether an address is a loopback address (`127.0.0.0/8`, `::1`) or the name `localhost`. */
export function isLoopback(endpoint: EndpointKey): boolean {
  const host = endpoint.host;
  if (host === undefined) return false;
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (endpoint.ip === 4) return host.startsWith('127.');
  if (endpoint.ip === 6) return host === '::1';
  return false;
}

/** Which IP families the endpoints may use: an IP literal its own, a name either. */
export function familiesOf(
  endpoints: readonly EndpointKey[],
  dns: boolean,
): { v4: boolean; v6: boolean } {
  let v4 = dns;
  let v6 = dns;
  for (const e of endpoints) {
    if (e.ip === 4) v4 = true;
    else if (e.ip === 6) v6 = true;
    else v4 = v6 = true;
  }
  return { v4, v6 };
}
