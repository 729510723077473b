/**
 * @module
 * The runtime section of a policy compiled to the launcher's rules: the union over every scope
 * and package, as for Node's flags (grants.ts), at the granularity the kernel has.
 *
 * - fs.read / fs.write: Landlock grants a file or a directory with everything beneath it, so a
 *   glob becomes its longest literal directory (`/srv/u/*.png` → `/srv/u`, `/srv/img-*\/a` →
 *   `/srv`); a path that does not exist yet becomes its nearest existing directory (the service
 *   creates it there), never `/`. With `createWriteDirs` (what `leash enforce` sets), the
 *   directory a write grant needs is made first when it is missing, so the grant stays as narrow
 *   as the rule instead of widening to an existing ancestor (a fresh copy of the service has no
 *   `{app}/data` yet: its rule would otherwise grant writing the whole app directory, code and
 *   policy included).
 * - child.spawn: execute rights on each program a command rule names (looked up on PATH), on the
 *   ELF loader it needs and on a script's interpreter; `/bin/sh` as soon as there is a command
 *   rule; read and write on the paths a command's arguments name (the child inherits the domain).
 * - net.listen / net.connect: the ports (Landlock has no addresses); a `*` port handles none.
 * - dns.lookup: UDP sockets (the resolver's) and TCP port 53; without it, no UDP at all.
 */
import { existsSync, mkdirSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Policy } from '../../core/policy.ts';
import { analyseCommand, resolveProgram } from '../../modules/runtime/exporters/commands.ts';
import { parseEndpointKey, runtimeGrants } from '../../modules/runtime/exporters/grants.ts';
import { nodeGrant } from '../../modules/runtime/exporters/node-flags.ts';
import { type Baseline, LINUX_BASELINE } from './baseline.ts';
import { interpreterOf } from './interpreter.ts';

/**
 * Programs that run other programs on their own, which no command rule names: the domain is
 * inherited, so those need execute rights too. Kept to what is known (tar's compressors).
 */
const HELPERS: Readonly<Record<string, readonly string[]>> = {
  tar: ['gzip', 'bzip2', 'xz', 'zstd', 'lzip', 'lzma', 'lzop', 'compress'],
};

export interface KernelRules {
  readonly read: readonly string[];
  readonly write: readonly string[];
  readonly exec: readonly string[];
  readonly bind: readonly number[];
  readonly connect: readonly number[];
  readonly bindAny: boolean;
  readonly connectAny: boolean;
  readonly udp: boolean;
  readonly unix: boolean;
  /** The service's executable, resolved (what the launcher executes). */
  readonly executable: string;
  /** Rules the kernel cannot express as written; what was done instead. */
  readonly warnings: readonly string[];
}

export interface KernelRuleOptions {
  /** The service command as the user wrote it. */
  readonly command: readonly string[];
  /** PATH of the service, to find programs named without a `/`. */
  readonly searchPath: string;
  /** Absolute paths leash's agent reads inside the service (its code, the policy, the config). */
  readonly extraRead?: readonly string[];
  readonly baseline?: Baseline;
  /**
   * Make the directory each fs.write rule writes in when it does not exist yet (see
   * `createWriteDir`). Off by default: compiling has no side effect unless asked.
   */
  readonly createWriteDirs?: boolean;
}

export function compileKernelRules(policy: Policy, options: KernelRuleOptions): KernelRules {
  const grants = runtimeGrants(policy);
  const warnings: string[] = [];
  const baseline = options.baseline ?? LINUX_BASELINE;

  // First, so that a read of a file in a directory made here is granted on that directory.
  if (options.createWriteDirs === true)
    for (const glob of grants['fs.write']) createWriteDir(glob, warnings);
  const read = new Set<string>(baseline.read.filter((p) => existsSync(p)));
  for (const path of options.extraRead ?? []) if (existsSync(path)) read.add(path);
  for (const glob of grants['fs.read']) {
    const path = kernelPath(glob, 'fs.read', warnings);
    if (path !== undefined) read.add(path);
  }
  const write = new Set<string>(baseline.write.filter((p) => existsSync(p)));
  for (const glob of grants['fs.write']) {
    const path = kernelPath(glob, 'fs.write', warnings);
    if (path !== undefined) write.add(path);
  }

  const exec = new Set<string>();
  const commands = grants['child.spawn'].map(analyseCommand);
  // exec() and `shell: true` run every command line through /bin/sh, and a command fact does not
  // say which way it was started.
  if (commands.length > 0) addProgram(exec, 'sh', options.searchPath, '/bin/sh');
  const [program] = options.command;
  const executable =
    program === undefined ? undefined : resolveProgram(program, options.searchPath);
  if (executable === undefined)
    throw new Error(`cannot find the program to run: ${program ?? '(none)'}`);
  addExecutable(exec, executable, options.searchPath);
  for (const info of commands) {
    const key = info.key;
    if (info.unknownProgram)
      warnings.push(`child.spawn ${key}: the program is not known; nothing is executable for it`);
    for (const name of info.programs) {
      if (!addProgram(exec, name, options.searchPath))
        warnings.push(`child.spawn ${key}: ${name} is not found here; not executable`);
      for (const helper of HELPERS[basename(name)] ?? [])
        addProgram(exec, helper, options.searchPath);
    }
    // The program reads or writes the files its arguments name, and leash cannot see which:
    // the domain is inherited, so it gets both.
    for (const glob of info.paths) {
      const path = kernelPath(glob, 'child.spawn', warnings);
      if (path === undefined) continue;
      read.add(path);
      write.add(path);
    }
    for (const wrapper of info.wrappers)
      warnings.push(
        `child.spawn ${key}: ${wrapper} runs other programs; only those named in command rules are executable`,
      );
  }

  let bindAny = false;
  let connectAny = false;
  const bind = new Set<number>();
  const connect = new Set<number>();
  let unix = false;
  const ports = (keys: readonly string[], into: Set<number>, capability: string): boolean => {
    let any = false;
    for (const key of keys) {
      if (key.startsWith('/') || key.startsWith('unix:')) {
        unix = true;
        continue;
      }
      const port = parseEndpointKey(key).port;
      if (/^\d+$/.test(port) && Number(port) <= 65535) into.add(Number(port));
      else {
        any = true;
        warnings.push(`${capability} ${key}: no single port; every port is allowed`);
      }
    }
    return any;
  };
  bindAny = ports(grants['net.listen'], bind, 'net.listen');
  connectAny = ports(grants['net.connect'], connect, 'net.connect');
  const udp = grants['dns.lookup'].length > 0;
  if (udp) connect.add(53);

  return {
    read: [...read].sort(),
    write: [...write].sort(),
    exec: [...exec].sort(),
    bind: [...bind].sort((a, b) => a - b),
    connect: [...connect].sort((a, b) => a - b),
    bindAny,
    connectAny,
    udp,
    unix,
    executable,
    warnings,
  };
}

/** The launcher's arguments for these rules, up to and including `--`. */
export function launcherArguments(rules: KernelRules): string[] {
  const args: string[] = [];
  for (const path of rules.read) args.push('-r', path);
  for (const path of rules.write) args.push('-w', path);
  for (const path of rules.exec) args.push('-x', path);
  for (const port of rules.bind) args.push('-b', String(port));
  for (const port of rules.connect) args.push('-c', String(port));
  if (rules.bindAny) args.push('-B');
  if (rules.connectAny) args.push('-C');
  if (rules.udp) args.push('-u');
  if (rules.unix) args.push('-U');
  args.push('--');
  return args;
}

/**
 * The file or directory a leash path glob becomes: its literal text up to the directory holding
 * the first wildcard; when that does not exist yet, its nearest existing directory. Never `/`.
 */
export function kernelPath(
  glob: string,
  capability: string,
  warnings: string[],
): string | undefined {
  const grant = nodeGrant(glob);
  let path = grant.endsWith('*') ? grant.slice(0, grant.lastIndexOf('/')) : grant;
  if (path === '') path = '/';
  let existing = path;
  while (existing !== '/' && !existsSync(existing)) existing = dirname(existing);
  if (existing === '/') {
    warnings.push(`${capability} ${glob}: it would take the whole file system; left out`);
    return undefined;
  }
  if (existing !== path)
    warnings.push(`${capability} ${glob}: ${path} does not exist yet; granted on ${existing}`);
  return existing;
}

/**
 * Makes the directory a write rule writes in when it is missing: the literal directory before a
 * wildcard (`/srv/data/*.db` → `/srv/data`), or for a literal path that does not exist the
 * directory it would be created in. The service would make it at its start, and could not under
 * a grant on it alone (Landlock grants existing paths only, and making a directory is a write in
 * its parent). Nothing is made where the nearest existing ancestor is `/`, and a failure (no
 * permission) leaves it to `kernelPath`'s nearest existing directory. Returns the directory made.
 */
export function createWriteDir(glob: string, warnings: string[]): string | undefined {
  const grant = nodeGrant(glob);
  const dir = grant.endsWith('*')
    ? grant.slice(0, grant.lastIndexOf('/'))
    : existsSync(grant)
      ? undefined
      : dirname(grant);
  if (dir === undefined || dir === '' || existsSync(dir)) return undefined;
  let existing = dirname(dir);
  while (existing !== '/' && !existsSync(existing)) existing = dirname(existing);
  if (existing === '/') return undefined;
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    warnings.push(`fs.write ${glob}: cannot make ${dir} (${(error as Error).message})`);
    return undefined;
  }
  warnings.push(`fs.write ${glob}: made ${dir}, which did not exist yet, to grant it alone`);
  return dir;
}

/** Execute rights for a program named as in a command line; false when it is not found. */
function addProgram(
  exec: Set<string>,
  name: string,
  searchPath: string,
  fallback?: string,
): boolean {
  const resolved = resolveProgram(name, searchPath) ?? fallback;
  if (resolved === undefined || !existsSync(resolved)) return false;
  addExecutable(exec, resolved, searchPath);
  return true;
}

/** The program, its ELF loader, or its `#!` interpreter (and `env`'s program), recursively. */
function addExecutable(exec: Set<string>, file: string, searchPath: string, depth = 0): void {
  let real: string;
  try {
    real = realpathSync(file);
    if (!statSync(real).isFile()) return;
  } catch {
    return;
  }
  if (exec.has(real) || depth > 4) return;
  exec.add(real);
  const interpreter = interpreterOf(real);
  if (interpreter.kind === 'elf') addExecutable(exec, interpreter.path, searchPath, depth + 1);
  if (interpreter.kind === 'script') {
    addExecutable(exec, interpreter.path, searchPath, depth + 1);
    if (interpreter.path.endsWith('/env') && interpreter.argument !== undefined) {
      const word = interpreter.argument.split(/\s+/).find((w) => !w.startsWith('-'));
      const target = word === undefined ? undefined : resolveProgram(word, searchPath);
      if (target !== undefined) addExecutable(exec, target, searchPath, depth + 1);
    }
  }
}
