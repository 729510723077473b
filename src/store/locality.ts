/**
 * @module
 * What ties a policy to one machine, written as named roots so that the same file enforces a copy
 * of the service elsewhere (docs/policy-format.md, "Portable policies"):
 *
 * - paths under the app directory, the temp directory, the home directory and the directories of
 *   configured environment variables are written `{app}/…`, `{tmp}/…`, `{home}/…`,
 *   `{env:DATA_DIR}/…` (longest root first, so an app checked out in the temp directory is
 *   `{app}`);
 * - in the runtime section, a port equal to an environment variable named like a port (`PORT`,
 *   `PGPORT`, `DB_PORT`) when the policy is written is `{env:PORT}`: `0.0.0.0:{env:PORT}`.
 *
 * Only the runtime section is rewritten: elsewhere keys are data (SQL constants, CSP sources).
 * Writing contracts keys into tokens; reading expands them with this machine's values. A token
 * whose variable is not set stops the read with the file, position and the variable's name.
 */
import { isLeashError, LeashError } from '../errors.ts';

/** One root: the token written in the file and the absolute path it stands for here. */
export interface Root {
  readonly token: string;
  readonly path: string;
}

export interface Locality {
  readonly roots: readonly Root[];
  /** The process environment, for `{env:NAME}`. */
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface LocalityOptions {
  readonly app: string;
  readonly tmp: string;
  readonly home: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Environment variables whose values are directories the policy may name (`DATA_DIR`). */
  readonly envRoots?: readonly string[];
}

const GLOB_SPECIAL = /[\\*?[\]{}]/;

/** The locality of a service from its config: the app directory and the config's `envRoots`. */
export function localityFor(
  config: { readonly root: string; readonly envRoots: readonly string[] },
  machine: { tmp: string; home: string; env: Readonly<Record<string, string | undefined>> },
): Locality {
  return localityOf({ app: config.root, ...machine, envRoots: config.envRoots });
}

export function localityOf(options: LocalityOptions): Locality {
  const candidates: Root[] = [
    { token: '{app}', path: options.app },
    { token: '{tmp}', path: options.tmp },
    { token: '{home}', path: options.home },
    ...(options.envRoots ?? []).map((name) => ({
      token: `{env:${name}}`,
      path: options.env[name] ?? '',
    })),
  ];
  const roots = candidates
    .map((r) => ({ token: r.token, path: r.path.replace(/\/+$/, '') }))
    // `/` or a path needing escapes in a glob is never a root worth a token.
    .filter((r) => r.path.startsWith('/') && r.path.length > 1 && !GLOB_SPECIAL.test(r.path))
    .sort((a, b) => b.path.length - a.path.length);
  return { roots, env: options.env };
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
/** Where a path may start inside a key: at its start, or after a space, `:`, `=` or a quote. */
const BEFORE = `(^|[\\s:='"(])`;
/** What may follow a root: a separator, the end, or the end of a word. */
const AFTER = `(?=$|[/\\s'")}])`;

/** The key as this machine reads it: tokens replaced by their values. */
export function expandKey(key: string, locality: Locality): string {
  if (!key.includes('{')) return key;
  return key.replace(
    /(?<!\\)\{(app|tmp|home|env:([A-Za-z_][A-Za-z0-9_]*))\}/g,
    (token, _n, env) => {
      if (env !== undefined) {
        const value = locality.env[env];
        if (value === undefined || value === '') throw unset(env, token);
        return value.replace(/\/+$/, '');
      }
      const root = locality.roots.find((r) => r.token === token);
      if (root === undefined) throw unset(token, token);
      return root.path;
    },
  );
}

/** A token this machine has no value for: the policy cannot be read here as it was written. */
function unset(variable: string, token: string): LeashError {
  return new LeashError(
    'ERR_LEASH_POLICY_SCHEMA',
    token.startsWith('{env:')
      ? `${token} needs the environment variable ${variable}, which is not set (run leash with the service's environment, e.g. ${variable}=… leash policy show)`
      : `${token} has no value on this machine`,
  );
}

/** Whether an error is the one `expandKey` throws for a token without a value. */
export function isUnsetVariable(error: unknown): error is LeashError {
  return (
    isLeashError(error, 'ERR_LEASH_POLICY_SCHEMA') &&
    / has no value | which is not set/.test(error.message)
  );
}

const PORT_NAME = /PORT$/;
const ENDPOINT = /^(\[[^\]]+\]|[A-Za-z0-9.*_-]+):(\d+)$/;

/** The key as the file writes it: roots and ports replaced by tokens. */
export function contractKey(key: string, locality: Locality, module: string): string {
  // Paths and ports live in the runtime section; elsewhere a key is data (an SQL constant, a CSP
  // source), kept as it is.
  if (module !== 'runtime') return key;
  let out = key;
  for (const root of locality.roots) {
    if (!out.includes(root.path)) continue;
    const pattern = new RegExp(`${BEFORE}${escapeRegExp(root.path)}${AFTER}`, 'g');
    out = out.replace(pattern, (_m, before: string) => `${before}${root.token}`);
  }
  const endpoint = ENDPOINT.exec(out);
  if (endpoint !== null && endpoint[2] !== '0') {
    const names = Object.keys(locality.env)
      .filter((name) => PORT_NAME.test(name) && locality.env[name] === endpoint[2])
      .sort((a, b) => (a === 'PORT' ? -1 : b === 'PORT' ? 1 : a.localeCompare(b)));
    if (names[0] !== undefined) out = `${endpoint[1]}:{env:${names[0]}}`;
  }
  return out;
}
