/**
 * @module
 * What the runtime module's observers and enforcers share: attribution of each use to a scope and
 * a package, the check itself, and the folding of module-loader reads into one rule per root.
 */

import { sep } from 'node:path';
import { isInternal } from '../../attribution/internal.ts';
import { type Caller, lazyUse, type PackageResolver } from '../../attribution/package-of.ts';
import { currentScope, LOADER, POOL } from '../../attribution/scope.ts';
import { wildcardAllowedIn } from '../../core/kinds/path.ts';
import { allows } from '../../core/tree.ts';
import type { CheckOptions, ModuleHost, UseContext } from '../../module/module.ts';
import { AllowedMemo } from './allowed-memo.ts';
import type { Capability } from './capabilities.ts';
import { isOwnEphemeralEndpoint } from './own-ports.ts';
import { temporaryGlob } from './temp-dirs.ts';

/** Packages whose outbound connections are a database pool's (`@pool`, every scope). */
const DATABASE_DRIVERS = new Set([
  'pg',
  'pg-pool',
  'postgres',
  'mysql',
  'mysql2',
  'mariadb',
  'tedious',
  'oracledb',
  'mongodb',
  'redis',
  '@redis/client',
  'ioredis',
]);

/**
 * Drivers of embedded databases: their own file checks before opening a database (better-sqlite3
 * asks whether the database's directory exists) belong to the handle, which the service opens
 * lazily in whichever request needs it first. A fresh install opens it at start-up (migrations),
 * a restarted one in the first request (a returning user's login): the process's, like a pool.
 */
const EMBEDDED_DATABASES = new Set([
  'better-sqlite3',
  'sqlite3',
  // The writer of lowdb's JSON file (json-server's database): a write asked for while another is
  // in flight is made in the continuation of the one before, in that request's async context,
  // so which route a write lands in is timing. Whether a route may write the file is decided
  // where it asks steno to, in its own context (steno.ts).
  'steno',
]);

/** Whether a use is a database handle's rather than the route's (decided under `@pool`). */
function isPoolUse(capability: Capability, pkg: string): boolean {
  if (capability === 'net.connect') return DATABASE_DRIVERS.has(pkg);
  return capability.startsWith('fs.') && EMBEDDED_DATABASES.has(pkg);
}

export interface RuntimeContext {
  readonly host: ModuleHost;
  readonly packages: PackageResolver;
  /** The app directory: its source files read by the module loader fold into `<root>/**`. */
  readonly appRoot: string;
  /**
   * Checks a use; throws ERR_LEASH_DENIED in enforce mode. `excuse` (see CheckOptions) is asked
   * before an ungranted use is recorded or refused. `entry`: the wrapper the service called, so
   * the stack is read from right below it (PackageResolver.caller), or the caller already read
   * where the service called leash (a fetch's, read in the fetch wrapper).
   */
  check(
    capability: Capability,
    resource: string,
    excuse?: () => boolean,
    entry?: ((...args: never[]) => unknown) | Caller,
  ): void;
  /** Like check but never throws (observers that cannot veto). */
  observe(capability: Capability, resource: string): void;
  /** The scope and package of the current call. */
  use(): UseContext;
}

export function createRuntimeContext(
  host: ModuleHost,
  packages: PackageResolver,
  appRoot: string,
): RuntimeContext {
  // Node resolves packages from every ancestor's node_modules, so a loader read there folds into
  // that node_modules; the app's own files fold into the app directory. pnpm keeps the real files
  // under node_modules/.pnpm, which `**` does not enter (wildcards skip dot names): that store is
  // its own root.
  const fold = (resource: string): string => {
    const marker = `${sep}node_modules${sep}`;
    const at = resource.indexOf(marker);
    if (at !== -1) {
      const store = resource.startsWith(`.pnpm${sep}`, at + marker.length) ? '/.pnpm' : '';
      return `${escapeGlob(resource.slice(0, at))}/node_modules${store}/**`;
    }
    if (resource.startsWith(`${appRoot}${sep}`)) return `${escapeGlob(appRoot)}/**`;
    return resource;
  };
  const use = (): UseContext => lazyUse(currentScope(), packages);
  const memo = new AllowedMemo(host.tree);
  // A file named for the day or the moment (`access.log.2026-12-02`, npm's timestamped debug log)
  // is learned with the date as a wildcard, where a wildcard may go at all: tomorrow's is the same
  // privilege.
  const inApp = (path: string) => path === appRoot || path.startsWith(`${appRoot}${sep}`);
  const timeless = (facts: readonly string[]): CheckOptions | undefined => {
    const [, , capability, resource] = facts as [string, string, string, string];
    if (host.mode !== 'learn' || !capability.startsWith('fs.')) return undefined;
    const slash = resource.lastIndexOf('/');
    const name = resource.slice(slash + 1);
    const pattern = timelessName(name);
    const dir = resource.slice(0, slash) || '/';
    if (pattern !== undefined && wildcardAllowedIn(dir, host.simplify))
      return {
        learnAs: [
          ...facts.slice(0, 3),
          `${(inApp(dir) ? undefined : temporaryGlob(dir)) ?? escapeGlob(dir)}/${pattern}`,
        ],
      };
    // The app's own directory is `{app}`, wherever it lives (a checkout in the temp directory).
    if (inApp(resource)) return undefined;
    const temporary = temporaryGlob(resource);
    return temporary === undefined ? undefined : { learnAs: [...facts.slice(0, 3), temporary] };
  };
  // The wrappers call this directly (it is `check`): every frame between the wrapper and the look
  // at the stack is walked by that look, at a cost per frame.
  const decide = (
    capability: Capability,
    resource: string,
    excuse?: () => boolean,
    entry?: ((...args: never[]) => unknown) | Caller,
    refuse = true,
  ): void => {
    if (isInternal()) return;
    if (capability === 'net.connect' && isOwnEphemeralEndpoint(resource)) return;
    const scope = currentScope();
    // A rule that grants the use to every package needs no look at the stack.
    const memory = memo.entry(scope, capability, resource);
    if (memory.any) return;
    // One look at the stack gives the package and whether the module loader made the call.
    const caller = typeof entry === 'object' ? entry : packages.caller(entry);
    const pool = isPoolUse(capability, caller.package);
    const loading = caller.loader && (capability === 'fs.read' || capability === 'addon.load');
    // A use the policy grants this package in this route, seen before: one lookup.
    if ((pool || !loading) && memo.allows(memory, scope, caller.package, capability, resource))
      return;
    const u = { scope, package: caller.package };
    if (pool) {
      // A pooled database connection or an embedded database's file: the process's, like module
      // loading (see POOL); remembered as a route's uses are.
      const shared = memo.entry(POOL, capability, resource);
      if (shared.any || memo.allows(shared, POOL, u.package, capability, resource)) return;
      (refuse ? host.check : host.observe)(
        [POOL, u.package, capability, resource],
        u,
        withExcuse(undefined, excuse),
      );
      return;
    }
    if (!loading) {
      const facts = [u.scope, u.package, capability, resource];
      (refuse ? host.check : host.observe)(facts, u, withExcuse(timeless(facts), excuse));
      return;
    }
    // Module loading is the process's doing, not the route's: a package loaded lazily by whichever
    // request needs it first is granted in every scope, under `@loader`, one rule per root. A rule
    // for the call's own scope (policies written before `@loader`) still grants it.
    if (allows(host.tree, [u.scope, 'node', capability, resource], { nearest: false }).allowed)
      return;
    // An addon stays one rule per file: loading any `.node` under a root is not what was seen.
    const folded = capability === 'fs.read' ? fold(resource) : resource;
    const facts = [LOADER, 'node', capability, resource];
    const options = folded === resource ? {} : { learnAs: [LOADER, 'node', capability, folded] };
    (refuse ? host.check : host.observe)(
      facts,
      { scope: u.scope, package: 'node' },
      withExcuse(options, excuse),
    );
  };
  return {
    host,
    packages,
    appRoot,
    use,
    check: decide,
    observe: (capability, resource) => decide(capability, resource, undefined, undefined, false),
  };
}

/** Check options with the caller's excuse added (made only when a use is not granted). */
function withExcuse(
  options: CheckOptions | undefined,
  excuse: (() => boolean) | undefined,
): CheckOptions | undefined {
  return excuse === undefined ? options : { ...options, excuse };
}

/** A literal path as a leash glob (escape the characters globs treat specially). */
export function escapeGlob(path: string): string {
  return path.replace(/[\\*?[\]{}]/g, '\\$&');
}

/** Dates and times (`2026-12-02`, `20261202`, `2026-12-02T10_11_12_345Z`) and digit runs of six or more. */
const MOMENT = /\d{4}-\d{2}-\d{2}(?:[T_ ]\d{2}[:_-]?\d{2}(?:[:_-]?\d{2})?(?:[._]\d+)?Z?)?|\d{6,}/g;

/**
 * A file name with its dates and long digit runs as wildcards, as a glob segment
 * (`access.log.2026-12-02` → `access.log.*`), or undefined when it has none.
 */
export function timelessName(name: string): string | undefined {
  if (name.startsWith('.')) return undefined;
  const parts = name.split(MOMENT);
  if (parts.length === 1) return undefined;
  return parts.map((part) => escapeGlob(part)).join('*');
}
