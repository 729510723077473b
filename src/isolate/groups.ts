/**
 * @module
 * Routes grouped by identical privileges (Passe's views, one process each; leash shares a process
 * between routes that hold exactly the same runtime grants). A route's grants are its runtime rules
 * with the scope taken off; SQL is not part of the key because the database proxy holds every
 * statement to the route its token names, whichever worker sends it. Routes with no runtime rule of
 * their own, and every request that matches no learned route, go to the unprivileged group.
 *
 * When there are more groups than the cap allows, the two groups whose union adds the fewest
 * grants to either side are merged, again and again: a merge gives each member the other's grants,
 * so the cheapest merge widens least.
 */
import { BACKGROUND, LOADER, POOL, STARTUP } from '../attribution/scope.ts';
import type { Policy } from '../core/policy.ts';
import * as policy from '../core/policy.ts';
import * as tree from '../core/tree.ts';
import { unaskedQueueWrites } from './queued-writes.ts';

export const UNPRIVILEGED = 'unprivileged';
/** The group of `isolate.loginRoutes`. */
export const LOGIN = 'login';

/** Scopes every worker holds: the process's own, not a route's. */
export const PROCESS_SCOPES: readonly string[] = [STARTUP, LOADER, POOL, BACKGROUND];

export interface Group {
  /** `unprivileged`, `login`, or `g1`, `g2`… in the order of their first route. */
  readonly name: string;
  readonly routes: readonly string[];
  /** The group's own runtime grants, `package capability resource` each, sorted. */
  readonly grants: readonly string[];
}

export interface Grouping {
  readonly groups: readonly Group[];
  /** Route → group name (routes of the unprivileged group included). */
  readonly groupOf: ReadonlyMap<string, string>;
  /** Groups merged to stay within the cap, as "g3 + g5" lines. */
  readonly merged: readonly string[];
}

export const DEFAULT_MAX_GROUPS = 8;

const ROUTE = /^[A-Z]+ \//;

/** The route scopes of a policy: runtime and sql sections (csp scopes are page paths). */
export function routeScopes(p: Policy): string[] {
  const out = new Set<string>();
  for (const name of ['runtime', 'sql']) {
    const t = p.modules.get(name);
    if (t === undefined) continue;
    for (const key of t.root.children.keys()) if (ROUTE.test(key)) out.add(key);
  }
  return [...out].sort();
}

function grantsOf(p: Policy): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const t = p.modules.get('runtime');
  if (t === undefined) return out;
  for (const rule of tree.rules(t)) {
    const [scope, ...rest] = rule;
    if (scope === undefined || !ROUTE.test(scope)) continue;
    let set = out.get(scope);
    if (set === undefined) {
      set = new Set();
      out.set(scope, set);
    }
    set.add(rest.join(' '));
  }
  return out;
}

/**
 * `together`: lists of routes that must share a worker because they share state in the service's
 * memory (a job one route starts and another reports on); each list's routes hold the union of
 * their grants. A route a list names that the policy does not have is ignored.
 */
export function groupRoutes(
  p: Policy,
  maxGroups = DEFAULT_MAX_GROUPS,
  together: readonly (readonly string[])[] = [],
  loginRoutes: readonly string[] = [],
): Grouping {
  const logins = new Set(loginRoutes);
  const grants = grantsOf(p);
  const scopes = routeScopes(p);
  // Each route's bundle: itself, or the first `together` list that names it, joined with every
  // list that shares a route with it.
  const bundleOf = new Map<string, string[]>(scopes.map((r) => [r, [r]]));
  for (const list of together) {
    const present = list.filter((r) => bundleOf.has(r));
    const first = present[0];
    if (first === undefined) continue;
    for (const route of present.slice(1)) {
      const into = bundleOf.get(first)!;
      const from = bundleOf.get(route)!;
      if (into === from) continue;
      for (const moved of from) {
        into.push(moved);
        bundleOf.set(moved, into);
      }
    }
  }
  const byKey = new Map<string, { routes: string[]; grants: Set<string> }>();
  const unprivileged: string[] = [];
  // The login routes (and what `together` binds to them) run apart from every other route, never
  // merged: code in a worker that serves a login route can log anyone in.
  const login = { routes: [] as string[], grants: new Set<string>() };
  for (const bundle of new Set(bundleOf.values())) {
    const set = new Set(bundle.flatMap((route) => [...(grants.get(route) ?? [])]));
    if (bundle.some((route) => logins.has(route))) {
      login.routes.push(...bundle);
      for (const g of set) login.grants.add(g);
      continue;
    }
    if (set.size === 0) {
      unprivileged.push(...bundle);
      continue;
    }
    const key = [...set].sort().join('\n');
    const entry = byKey.get(key);
    if (entry === undefined) byKey.set(key, { routes: [...bundle], grants: set });
    else entry.routes.push(...bundle);
  }
  const privileged = [...byKey.values()];
  const merged: string[] = [];
  // One group of the cap is the unprivileged one, one the login group when there is one.
  const cap = Math.max(1, maxGroups - 1 - (login.routes.length > 0 ? 1 : 0));
  while (privileged.length > cap) {
    let best: [number, number, number] | undefined;
    for (let i = 0; i < privileged.length; i++) {
      for (let j = i + 1; j < privileged.length; j++) {
        const a = privileged[i]!.grants;
        const b = privileged[j]!.grants;
        let added = 0;
        for (const g of a) if (!b.has(g)) added++;
        for (const g of b) if (!a.has(g)) added++;
        if (best === undefined || added < best[2]) best = [i, j, added];
      }
    }
    const [i, j] = best!;
    const a = privileged[i]!;
    const b = privileged.splice(j, 1)[0]!;
    merged.push(`${a.routes.join(', ')} + ${b.routes.join(', ')}`);
    a.routes.push(...b.routes);
    for (const g of b.grants) a.grants.add(g);
  }
  const groups: Group[] = privileged
    .map((g) => ({ routes: g.routes.sort(), grants: [...g.grants].sort() }))
    .sort((a, b) => a.routes[0]!.localeCompare(b.routes[0]!))
    .map((g, i) => ({ name: `g${i + 1}`, ...g }));
  if (login.routes.length > 0)
    groups.push({ name: LOGIN, routes: login.routes.sort(), grants: [...login.grants].sort() });
  groups.push({ name: UNPRIVILEGED, routes: unprivileged.sort(), grants: [] });
  const groupOf = new Map<string, string>();
  for (const g of groups) for (const r of g.routes) groupOf.set(r, g.name);
  return { groups, groupOf, merged };
}

/**
 * The policy a group's worker runs under at the kernel: the process scopes and the group's routes,
 * runtime section only, minus what `drop` says (rules reaching the database file, which only the
 * supervisor may open) and minus a write queue's `@pool` rules for a file none of them asks to
 * write while another route does (queued-writes.ts).
 */
export function groupPolicy(
  p: Policy,
  group: Group,
  drop: (rule: readonly string[]) => boolean = () => false,
): Policy {
  const t = p.modules.get('runtime');
  if (t === undefined) return policy.emptyPolicy();
  const scopes = new Set([...PROCESS_SCOPES, ...group.routes]);
  const own = tree.createTree(t.kind);
  for (const rule of tree.rules(t)) if (scopes.has(rule[0]!)) tree.addRule(own, rule);
  const unasked = unaskedQueueWrites(own, t);
  const out = tree.createTree(t.kind);
  for (const rule of tree.rules(own)) if (!unasked(rule) && !drop(rule)) tree.addRule(out, rule);
  return policy.policyOf([['runtime', out]]);
}
