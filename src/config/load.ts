/**
 * @module
 * Finds, loads and resolves the configuration. Precedence: environment (`LEASH_MODE`,
 * `LEASH_POLICY`, `LEASH_CONFIG`) over the config file over defaults.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { evaluate, parse as parseJson } from '@humanwhocodes/momoa';
import type { z as Z } from 'zod';
import type { SimplifyOptions } from '../core/kind.ts';
import { SYSTEM_DIRS } from '../core/kinds/path.ts';
import { LeashError } from '../errors.ts';
import type { CspSettings, LeashModule, Mode } from '../module/module.ts';
import { BUILTIN_MODULES } from '../modules/builtin.ts';
import { checkModePair, checkModeSetting } from './check-modes.ts';
import { configSchemaFor, type LeashConfig } from './schema.ts';
import { didYouMean } from './suggest.ts';
import { zod } from './zod.ts';

/** `.ts` is loaded as is: Node 26 strips the types of files outside node_modules. */
export const CONFIG_FILES = [
  'leash.config.js',
  'leash.config.mjs',
  'leash.config.ts',
  'leash.config.json',
] as const;
export const DEFAULT_POLICY_FILE = 'leash.policy.json';

export interface ResolvedConfig {
  /** The config file used, if any. */
  readonly file: string | undefined;
  /** The app directory: the config file's directory, else the working directory. */
  readonly root: string;
  readonly policyFile: string;
  /** Mode of a module by name. */
  modeOf(module: string): Mode;
  readonly modes: Readonly<Record<string, Mode>>;
  readonly defaultMode: Mode;
  readonly simplify: SimplifyOptions;
  readonly flushIntervalMs: number;
  readonly principal: string | ((request: unknown) => unknown) | undefined;
  readonly inputHeaders: readonly string[];
  readonly maxRememberedValues: number;
  readonly ignoreUnpatched: readonly string[];
  readonly modules: readonly LeashModule[];
  readonly logLevel: string;
  readonly csp: CspSettings;
  /** Each module's own settings (its config section over its declared defaults), by name. */
  readonly moduleSettings?: ReadonlyMap<string, Readonly<Record<string, unknown>>>;
  /**
   * Learn facts exactly as observed, never generalised (`LEASH_LEARN_EXACT=1`): what `leash ci`
   * learns is compared rule by rule with the committed policy.
   */
  readonly learnExact?: boolean;
  /** Environment variables naming directories, written `{env:NAME}` in the policy. */
  readonly envRoots: readonly string[];
  /** `isolate` with its defaults filled in; `enabled` false when the config does not ask for it. */
  readonly isolate: IsolateSettings;
  /** enforce: a refusal the service never catches is logged (`log`) or ends the process (`exit`). */
  readonly onUncaughtRefusal: 'log' | 'exit';
}

export interface IsolateSettings {
  readonly enabled: boolean;
  readonly maxGroups: number;
  readonly workers: number;
  /** Workers of all groups at most; 0: as many as start (no scaling). */
  readonly maxWorkers: number;
  readonly scaleAt: number;
  readonly loginRoutes: readonly string[];
  readonly together: readonly (readonly string[])[];
  readonly tokenSeconds: number;
  readonly maxBodyBytes: number;
}

function isolateSettings(value: LeashConfig['isolate']): IsolateSettings {
  const given = typeof value === 'object' ? value : {};
  return {
    enabled: typeof value === 'object' ? (value.enabled ?? true) : value === true,
    maxGroups: given.maxGroups ?? 8,
    workers: given.workers ?? 1,
    // 0: "the start count", settled by the supervisor once it knows how many groups there are.
    maxWorkers: given.maxWorkers ?? 0,
    scaleAt: given.scaleAt ?? 4,
    loginRoutes: given.loginRoutes ?? [],
    together: given.together ?? [],
    tokenSeconds: given.tokenSeconds ?? 300,
    maxBodyBytes: given.maxBodyBytes ?? 1024 * 1024,
  };
}

export interface LoadOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
}

export async function loadConfig(options: LoadOptions = {}): Promise<ResolvedConfig> {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const file = findConfigFile(cwd, env);
  const raw = file === undefined ? {} : await readConfigFile(file);
  return resolveConfig(raw, { file, cwd, env });
}

function findConfigFile(cwd: string, env: NodeJS.ProcessEnv): string | undefined {
  const explicit = env.LEASH_CONFIG;
  if (explicit !== undefined && explicit !== '') {
    const file = resolve(cwd, explicit);
    if (!existsSync(file)) {
      throw new LeashError(
        'ERR_LEASH_CONFIG',
        `${file}: LEASH_CONFIG names a file that does not exist`,
        { file },
      );
    }
    return file;
  }
  const found = CONFIG_FILES.map((name) => join(cwd, name)).filter((f) => existsSync(f));
  if (found.length > 1) {
    throw new LeashError(
      'ERR_LEASH_CONFIG',
      `${cwd}: found ${found.map((f) => f.slice(cwd.length + 1)).join(' and ')}; keep one config file`,
      { file: found[0]! },
    );
  }
  return found[0];
}

async function readConfigFile(file: string): Promise<unknown> {
  if (file.endsWith('.json')) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new LeashError(
        'ERR_LEASH_CONFIG',
        `${file}: cannot read: ${(error as Error).message}`,
        { file },
      );
    }
    try {
      return evaluate(parseJson(text, { mode: 'json', ranges: false }).body);
    } catch (error) {
      const e = error as Error & { line?: number; column?: number };
      const [line, column] = [e.line ?? 1, e.column ?? 1];
      const reason = e.message.replace(/ \(\d+:\d+\)$/, '');
      throw new LeashError(
        'ERR_LEASH_CONFIG',
        `${file}:${line}:${column}: invalid JSON: ${reason}`,
        {
          file,
          line,
          column,
        },
      );
    }
  }
  let loaded: { default?: unknown };
  try {
    loaded = await import(pathToFileURL(file).href);
  } catch (error) {
    throw new LeashError(
      'ERR_LEASH_CONFIG',
      `${file}: cannot load: ${(error as Error).message}`,
      { file },
      { cause: error },
    );
  }
  if (loaded.default === undefined) {
    throw new LeashError(
      'ERR_LEASH_CONFIG',
      `${file}: expected \`export default defineConfig({ ... })\``,
      { file },
    );
  }
  return loaded.default;
}

export function resolveConfig(
  raw: unknown,
  context: {
    readonly file: string | undefined;
    readonly cwd: string;
    readonly env: NodeJS.ProcessEnv;
  },
): ResolvedConfig {
  const { file, cwd, env } = context;
  const where = file ?? 'config';
  const details = file === undefined ? {} : { file };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new LeashError(
      'ERR_LEASH_CONFIG',
      `${where}: expected an object of settings, got ${raw === null ? 'null' : Array.isArray(raw) ? 'an array' : typeof raw}`,
      details,
    );
  }
  const allModules = modulesOf(raw);
  const moduleNames = allModules.map((m) => m.name);
  try {
    checkModeSetting((raw as { mode?: unknown }).mode, moduleNames, where);
  } catch (error) {
    if (error instanceof LeashError) throw new LeashError(error.code, error.message, details);
    throw error;
  }
  // No settings (no config file): nothing to check, every setting being optional, and no schema
  // made for it (see zod.ts).
  let config = {} as LeashConfig & Record<string, unknown>;
  if (Object.keys(raw).length > 0) {
    const schema = configSchemaFor(allModules);
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      throw new LeashError(
        'ERR_LEASH_CONFIG',
        `${where}: ${describeIssue(parsed.error.issues[0]!, schema)}`,
        details,
      );
    }
    config = parsed.data as LeashConfig & Record<string, unknown>;
  }
  const moduleSettings = new Map<string, Readonly<Record<string, unknown>>>();
  for (const module of allModules) {
    if (module.settings === undefined) continue;
    const section = config[module.name] as Record<string, unknown> | undefined;
    moduleSettings.set(module.name, Object.freeze({ ...module.settings.defaults, ...section }));
  }
  const root = file === undefined ? cwd : dirname(file);

  const policyFile = resolve(
    env.LEASH_POLICY ? cwd : root,
    env.LEASH_POLICY || config.policy || DEFAULT_POLICY_FILE,
  );

  const { defaultMode, modes } = resolveModes(config.mode, env.LEASH_MODE, moduleNames);

  const dataDirs = (config.dataDirs ?? []).map((dir) => resolve(root, dir));
  for (const dir of dataDirs) checkRoot(dir, where);
  // The temp directory is a root wherever the app is; for an app checked out in it, the path kind
  // places no wildcard in a directory above the app (`/tmp/**` would cover the app's own code),
  // while its data in a directory of its own there (mkdtemp) still generalises.
  const tmp = tmpdir();
  const envRoots = config.envRoots ?? [];
  const envDirs = envRoots
    .map((name) => env[name])
    .filter((dir): dir is string => typeof dir === 'string' && isAbsolute(dir));
  for (const dir of envDirs) checkRoot(dir, where);
  const roots = [...new Set([root, join(root, 'node_modules'), tmp, ...dataDirs, ...envDirs])];

  return {
    file,
    root,
    policyFile,
    modes,
    defaultMode,
    modeOf: (module) => modes[module] ?? defaultMode,
    simplify: Object.freeze({
      threshold: config.threshold ?? 3,
      roots,
      homes: [homedir()],
      app: root,
    }),
    flushIntervalMs: config.flushIntervalMs ?? 5000,
    principal: config.principal as ResolvedConfig['principal'],
    inputHeaders: (config.inputHeaders ?? []).map((h) => h.toLowerCase()),
    maxRememberedValues: config.maxRememberedValues ?? 1000,
    ignoreUnpatched: config.ignoreUnpatched ?? [],
    modules: config.modules ?? [],
    logLevel: config.log?.level ?? 'info',
    learnExact: env.LEASH_LEARN_EXACT === '1',
    onUncaughtRefusal: config.onUncaughtRefusal ?? 'log',
    isolate: isolateSettings(config.isolate),
    envRoots,
    csp: moduleSettings.get('csp') as unknown as CspSettings,
    moduleSettings,
  };
}

/** `LEASH_MODE=enforce` or `LEASH_MODE=runtime=enforce,sql=report`; it wins over the file. */
export function resolveModes(
  fromFile: LeashConfig['mode'],
  fromEnv: string | undefined,
  moduleNames: readonly string[] = BUILTIN_MODULES.map((m) => m.name),
): { defaultMode: Mode; modes: Record<string, Mode> } {
  let defaultMode: Mode = 'learn';
  const modes: Record<string, Mode> = {};
  const apply = (name: string, mode: Mode) => {
    if (name === 'default') defaultMode = mode;
    else modes[name] = mode;
  };
  if (typeof fromFile === 'string') defaultMode = fromFile;
  else if (fromFile !== undefined)
    for (const [name, mode] of Object.entries(fromFile)) apply(name, mode);

  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    // A bare mode (`leash learn`) means every module; pairs override the modules they name.
    if (!fromEnv.includes('=')) for (const name of Object.keys(modes)) delete modes[name];
    for (const part of fromEnv.split(',')) {
      const [name, mode] = part.includes('=')
        ? part.split('=', 2).map((s) => s.trim())
        : ['default', part.trim()];
      apply(name!, checkModePair(name!, mode, part, moduleNames));
    }
  }
  return { defaultMode, modes };
}

/** The built-in modules and the config's own (those the schema will accept as modules). */
function modulesOf(raw: object): LeashModule[] {
  const own = (raw as { modules?: unknown }).modules;
  const modules = [...BUILTIN_MODULES];
  if (Array.isArray(own)) {
    for (const m of own) {
      const candidate = m as Partial<LeashModule> | null;
      if (typeof candidate?.name === 'string' && typeof candidate.root === 'object')
        modules.push(candidate as LeashModule);
    }
  }
  return modules;
}

/** One zod issue as a person reads it: where, what was wrong, and the likely intended key. */
function describeIssue(issue: Z.core.$ZodIssue, schema: Z.ZodType): string {
  const path = issue.path.map(String);
  const at = path.length > 0 ? `${path.join('.')}: ` : '';
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeys(schema, path);
    const keys = issue.keys.map((key) => `${JSON.stringify(key)}${didYouMean(key, known)}`);
    return `${at}unknown setting${keys.length > 1 ? 's' : ''} ${keys.join(', ')}; known: ${known.join(', ')}`;
  }
  return `${at}${issue.message}`;
}

/** The settings an object at `path` of the config may have. */
function knownKeys(root: Z.ZodType, path: readonly string[]): string[] {
  const z = zod();
  let schema = root;
  for (const key of ['', ...path]) {
    while (schema instanceof z.ZodOptional) schema = schema.unwrap() as Z.ZodType;
    if (key === '') continue;
    if (!(schema instanceof z.ZodObject)) return [];
    schema = (schema.shape as Record<string, Z.ZodType>)[key]!;
  }
  while (schema instanceof z.ZodOptional) schema = schema.unwrap() as Z.ZodType;
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}

function checkRoot(dir: string, where: string): void {
  if (
    !isAbsolute(dir) ||
    dir === '/' ||
    SYSTEM_DIRS.some((sys) => dir === sys || dir.startsWith(`${sys}/`))
  ) {
    throw new LeashError(
      'ERR_LEASH_CONFIG',
      `${where}: dataDirs: ${dir} cannot be a data directory (it is / or a system directory)`,
    );
  }
  if (dir === homedir() || dir === '/root' || /^\/(home|Users)(\/[^/]+)?$/.test(dir)) {
    throw new LeashError(
      'ERR_LEASH_CONFIG',
      `${where}: dataDirs: ${dir} is a home directory; name a directory inside it`,
    );
  }
}
