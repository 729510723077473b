/**
 * @module
 * The `mode` setting, checked against the modules that exist. A typo must not fail open: with
 * `mode: { "runtme": "enforce" }` the runtime module would silently stay in its default mode, so a
 * name that is no module, and a value that is no mode, stop leash with an error that says which.
 */
import { LeashError } from '../errors.ts';
import { MODES, type Mode } from '../module/module.ts';
import { didYouMean } from './suggest.ts';

const EXPECTED = `${MODES.join(' | ')}`;
const isMode = (value: unknown): value is Mode =>
  typeof value === 'string' && (MODES as readonly string[]).includes(value);

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

function notAMode(where: string, value: unknown): LeashError {
  const hint = typeof value === 'string' ? didYouMean(value, MODES) : '';
  return new LeashError(
    'ERR_LEASH_CONFIG',
    `${where}: ${describe(value)} is not a mode${hint}; expected ${EXPECTED}`,
  );
}

function notAModule(where: string, name: string, modules: readonly string[]): LeashError {
  return new LeashError(
    'ERR_LEASH_CONFIG',
    `${where}: ${JSON.stringify(name)} is not a module${didYouMean(name, [...modules, 'default'])}; ` +
      `modes are set for ${modules.join(', ')} or default (every other module)`,
  );
}

/**
 * Checks the config file's `mode`: one mode for every module (`"enforce"`), or a mode per module
 * name (`{ "runtime": "enforce", "default": "learn" }`). `at` prefixes messages (the file).
 */
export function checkModeSetting(value: unknown, modules: readonly string[], at: string): void {
  if (value === undefined) return;
  if (typeof value === 'string') {
    if (!isMode(value)) throw notAMode(`${at}: mode`, value);
    return;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new LeashError(
      'ERR_LEASH_CONFIG',
      `${at}: mode: expected a mode (${EXPECTED}) or an object of modes per module ` +
        `({ "runtime": "enforce" }), got ${describe(value)}`,
    );
  }
  for (const [name, mode] of Object.entries(value)) {
    if (name !== 'default' && !modules.includes(name))
      throw notAModule(`${at}: mode`, name, modules);
    if (!isMode(mode)) throw notAMode(`${at}: mode.${name}`, mode);
  }
}

/** Checks one `module=mode` pair or bare mode of `LEASH_MODE`. */
export function checkModePair(
  name: string,
  mode: string | undefined,
  part: string,
  modules: readonly string[],
): Mode {
  if (name !== 'default' && !modules.includes(name)) {
    throw notAModule(`LEASH_MODE ${JSON.stringify(part)}`, name, modules);
  }
  if (!isMode(mode)) {
    const hint = mode === undefined ? '' : didYouMean(mode, MODES);
    throw new LeashError(
      'ERR_LEASH_CONFIG',
      `LEASH_MODE: ${JSON.stringify(part)} is not a mode${hint}; expected ${EXPECTED} or module=mode pairs (runtime=enforce,sql=report)`,
    );
  }
  return mode;
}
