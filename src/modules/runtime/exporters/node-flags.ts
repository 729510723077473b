/**
 * @module
 * The runtime section compiled to Node's own permission model (`--permission`), for the whole
 * process: the union over every scope and package. What Node can express, verified on Node 26
 * (docs/exports.md has the experiments):
 *
 * - `--allow-fs-read=P` / `--allow-fs-write=P`: one flag per path, absolute; a comma is part of
 *   the path, not a separator.
 * - A path without `*` grants exactly that path, unless it is an existing directory when the
 *   process starts: then it grants the directory and its whole subtree (Node appends `/*`).
 *   A directory created later is only that one path.
 * - A `*` ends the grant: everything after it is ignored and the grant is every path that starts
 *   with the text before it, across `/` (`/data/u*` grants `/data/uploads/x`, `/srv/u/*.png`
 *   grants all of `/srv/u`). So `dir/*` is a directory's subtree (and the directory itself),
 *   whether or not it exists yet.
 * - Grants are compared with the path as the program spells it, after `..` is resolved; symbolic
 *   links are neither resolved in grants nor re-checked when followed: a link inside a granted
 *   directory reaches its target, and a link granted by name does not grant its target's name.
 * - `--allow-net`, `--allow-child-process`, `--allow-worker`, `--allow-addons`, `--allow-wasi`
 *   are all-or-nothing booleans. There is nothing for environment variables.
 *
 * A leash glob therefore becomes the smallest grant that includes it: a literal path stays that
 * path (escapes decoded); a glob is cut at its first wildcard, `/srv/u/*.png` → `/srv/u/*`,
 * `/srv/img-*\/a.png` → `/srv/img-*`, `/srv/app/**` → `/srv/app/*`.
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { basename, dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { escapePath, parseGlob, WILDCARD } from '../../../core/kinds/glob.ts';
import type { Policy } from '../../../core/policy.ts';
import { lockPath, violationsPath } from '../../../store/file-store.ts';
import { type ExtraPaths, runtimeGrants } from './grants.ts';

export interface NodePermissionConfig {
  'allow-fs-read'?: string[];
  'allow-fs-write'?: string[];
  'allow-addons'?: true;
  'allow-child-process'?: true;
  'allow-net'?: true;
  'allow-wasi'?: true;
  'allow-worker'?: true;
}

export interface NodePermissions {
  /** `--permission` and the `--allow-*` flags, in a stable order. */
  readonly flags: string[];
  /** The same grants as the `node.config.json` file Node reads with `--experimental-config-file`. */
  readonly config: { permission: NodePermissionConfig };
  /** Rules Node cannot express without granting far more; left out, and said why. */
  readonly warnings: string[];
}

export type NodePermissionOptions = ExtraPaths;

const BOOLEAN_FLAGS = [
  ['allow-addons', ['addon.load']],
  ['allow-child-process', ['child.spawn']],
  ['allow-net', ['net.connect', 'net.listen', 'dns.lookup']],
  ['allow-wasi', ['wasi.start']],
  ['allow-worker', ['worker.start']],
] as const;

export function compileNodePermissions(
  policy: Policy,
  options: NodePermissionOptions = {},
): NodePermissions {
  const grants = runtimeGrants(policy);
  const warnings: string[] = [];
  const compile = (capability: string, globs: readonly string[]): string[] => {
    const out: string[] = [];
    for (const glob of globs) {
      const grant = nodeGrant(glob);
      if (grant === '/' || grant === '/*') {
        warnings.push(
          `${capability} ${glob}: Node would grant the whole file system for it (an existing directory is granted with its subtree); left out`,
        );
      } else out.push(grant);
    }
    return minimalGrants(out);
  };
  const read = compile('fs.read', [...grants['fs.read'], ...(options.extraRead ?? [])]);
  const write = compile('fs.write', [...grants['fs.write'], ...(options.extraWrite ?? [])]);
  const permission: NodePermissionConfig = {};
  const flags = ['--permission'];
  if (read.length > 0) permission['allow-fs-read'] = read;
  if (write.length > 0) permission['allow-fs-write'] = write;
  for (const path of read) flags.push(`--allow-fs-read=${path}`);
  for (const path of write) flags.push(`--allow-fs-write=${path}`);
  for (const [flag, capabilities] of BOOLEAN_FLAGS) {
    if (capabilities.some((c) => grants[c].length > 0)) {
      permission[flag] = true;
      flags.push(`--${flag}`);
    }
  }
  return { flags, config: { permission }, warnings };
}

/**
 * The smallest Node grant that includes every path a leash glob (a policy key: escaped, absolute)
 * matches: the literal text up to the first wildcard, followed by `*`; a literal path itself.
 * A literal `*` in a name is a wildcard to Node, so the grant is cut there too.
 */
export function nodeGrant(glob: string): string {
  const parsed = parseGlob(glob);
  let out = '';
  for (const segment of parsed.segments) {
    if (segment.kind === 'globstar') return `${out}/*`;
    let text = '';
    for (const part of segment.parts) {
      if (part === WILDCARD) return `${out}/${text}*`;
      const star = part.indexOf('*');
      if (star >= 0) return `${out}/${text}${part.slice(0, star)}*`;
      text += part;
    }
    out += `/${text}`;
  }
  return out === '' ? '/' : out;
}

/** Whether Node's grant `outer` allows every path `inner` allows. */
export function nodeGrantCovers(outer: string, inner: string): boolean {
  if (outer === inner) return true;
  if (!outer.endsWith('*')) return false;
  const prefix = outer.slice(0, -1);
  if (inner.startsWith(prefix)) return true;
  // `dir/*` also grants `dir` itself.
  return prefix.endsWith('/') && inner === prefix.slice(0, -1);
}

/** Deduplicated, without grants another one covers, sorted. */
export function minimalGrants(grants: readonly string[]): string[] {
  const unique = [...new Set(grants)].sort();
  return unique.filter((g) => !unique.some((other) => other !== g && nodeGrantCovers(other, g)));
}

// ---------------------------------------------------------------------------------------------
// What the agent itself needs

export interface AgentPaths {
  /** Leash path globs: the policy's directory, the config file, leash's code and dependencies. */
  readonly read: string[];
  /** Leash path globs: the violations file (written atomically), the policy lock. */
  readonly write: string[];
}

/**
 * The paths leash's own agent reads and writes inside the service, for a policy file and config:
 * pass them as `extraRead` / `extraWrite` to the exporters.
 */
export function agentPaths(config: {
  readonly file: string | undefined;
  readonly policyFile: string;
}): AgentPaths {
  const policyDir = dirname(config.policyFile);
  const read = [escapePath(policyDir), `${escapePath(policyDir)}/**`];
  if (config.file !== undefined) read.push(escapePath(config.file));
  for (const dir of codeDirs()) read.push(escapePath(dir), `${escapePath(dir)}/**`);
  const violations = violationsPath(config.policyFile);
  const write = [
    escapePath(violations),
    // writeFileAtomicSync's temporary files: `.<name>.<pid>.<random>.tmp` beside the file.
    `${escapePath(dirname(violations))}/${escapePath(`.${basename(violations)}.`)}*.tmp`,
    // The lock file and the journal SQLite keeps beside it.
    `${escapePath(lockPath(config.policyFile))}*`,
  ];
  return { read: [...new Set(read)], write };
}

/** Leash's package directory, and the `node_modules` directories its dependencies load from. */
export function codeDirs(): string[] {
  const root = packageRoot();
  const dirs = [root];
  const parent = enclosingNodeModules(root);
  if (parent !== undefined) dirs.push(parent);
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
  };
  for (const name of Object.keys(manifest.dependencies ?? {}).sort()) {
    let resolved: string;
    try {
      resolved = realpathSync(fileURLToPath(import.meta.resolve(name)));
    } catch {
      continue;
    }
    const dir = enclosingNodeModules(resolved);
    if (dir !== undefined && !dirs.some((d) => dir === d || dir.startsWith(`${d}${sep}`)))
      dirs.push(dir);
  }
  return dirs;
}

/** The nearest directory above this file holding leash's package.json (works from src/ and dist/). */
export function packageRoot(): string {
  let dir = dirname(realpathSync(fileURLToPath(import.meta.url)));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === 'leash')
          return dir;
      } catch {}
    }
    const up = dirname(dir);
    if (up === dir)
      throw new Error(`cannot find leash's package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** `/a/node_modules` for `/a/node_modules/x/…` or `/a/node_modules/@s/x/…`. */
function enclosingNodeModules(path: string): string | undefined {
  const marker = `${sep}node_modules${sep}`;
  const at = path.lastIndexOf(marker);
  return at < 0 ? undefined : path.slice(0, at + marker.length - 1);
}

/** Quotes one NODE_OPTIONS word (Node splits NODE_OPTIONS on spaces, honouring double quotes). */
export function nodeOptionsWord(word: string): string {
  return /[\s"\\]/.test(word) ? `"${word.replace(/(["\\])/g, '\\$1')}"` : word;
}
