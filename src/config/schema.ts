/**
 * @module
 * The shape of `leash.config.{js,mjs,json}`, validated with zod. Every field is optional: with no
 * config at all leash learns into `leash.policy.json` next to where it was started.
 */
import type { z as Z } from 'zod';
import { type LeashModule, MODES } from '../module/module.ts';
import type { cspSettingsSchema } from '../modules/csp/settings.ts';
import { lazy, zod } from './zod.ts';

/** Made on first use, like every schema (see zod.ts): a service without a config needs none. */
const makeConfigSchema = () => {
  const z = zod();
  const modeSchema = z.enum(MODES, {
    error: (issue) => `expected one of ${MODES.join(' | ')}, got ${JSON.stringify(issue.input)}`,
  });
  const moduleSchema = z.custom<LeashModule>(
    (value) =>
      typeof value === 'object' &&
      value !== null &&
      typeof (value as LeashModule).name === 'string' &&
      typeof (value as LeashModule).root === 'object',
    { message: 'expected a module made with defineModule()' },
  );
  return z.strictObject({
    /** Policy file, relative to the config file's directory. Default `leash.policy.json`. */
    policy: z.string().min(1).optional(),
    /** One mode for every module, or a mode per module name (`default` for the rest). */
    mode: z.union([modeSchema, z.record(z.string(), modeSchema)]).optional(),
    /**
     * Environment variables naming directories (`DATA_DIR`): paths under them are written
     * `{env:DATA_DIR}/…` in the policy and may be generalised like `dataDirs`.
     */
    envRoots: z
      .array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name'))
      .optional(),
    /** Distinct siblings before a collapse. Default 3. */
    threshold: z
      .int()
      .min(2, 'threshold must be at least 2 (1 would turn any fact into a wildcard)')
      .max(1000)
      .optional(),
    /** Directories whose contents may be generalised, besides the app directory, its node_modules and the OS temp dir. */
    dataDirs: z.array(z.string().min(1)).optional(),
    /** How often learned facts are written, in ms. Default 5000. */
    flushIntervalMs: z.int().min(10).max(3_600_000).optional(),
    /** Where the logged-in user comes from: a property path of the request, or a function of it. */
    principal: z.union([z.string().min(1), z.function()]).optional(),
    /** sql: request headers whose values count as request inputs (`=request.headers.x-tenant`). */
    inputHeaders: z.array(z.string().min(1)).optional(),
    /**
     * npm packages leash may leave unpatched in enforce mode (a SQL driver it does not cover, or a
     * version outside its range) instead of refusing to start: what they do goes unchecked.
     */
    ignoreUnpatched: z.array(z.string().min(1)).optional(),
    /** sql: values remembered per request for `=result` constraints. Default 1000. */
    maxRememberedValues: z.int().min(0).max(1_000_000).optional(),
    /**
     * enforce: what a refusal the service never catches does (an uncaught exception or unhandled
     * rejection). `'log'` (default): logged, its request answers 500, the service keeps serving.
     * `'exit'`: Node's own behaviour, the process exits.
     */
    onUncaughtRefusal: z.enum(['log', 'exit']).optional(),
    /**
     * `leash enforce --isolate` (or `true` here): routes in sandboxed worker processes behind
     * leash's dispatcher, the database behind its proxy (docs/isolation.md).
     */
    isolate: z
      .union([
        z.boolean(),
        z.strictObject({
          /** Whether `leash enforce` isolates without `--isolate` (default true: the section asks). */
          enabled: z.boolean().optional(),
          /** Worker groups at most, the unprivileged one included. Default 8. */
          maxGroups: z.int().min(2).max(64).optional(),
          /** Worker processes per group at start. Default 1. */
          workers: z.int().min(1).max(32).optional(),
          /**
           * Worker processes of all groups at most: above the start count, a group whose workers
           * each have `scaleAt` requests in flight gets one more. Default: the start count (no
           * scaling; a service that keeps state in memory must not scale).
           */
          maxWorkers: z.int().min(1).max(256).optional(),
          /** Requests in flight on every worker of a group before it scales. Default 4. */
          scaleAt: z.int().min(1).max(1000).optional(),
          /** Routes that may log a user in or out (change a session's principal), e.g. `POST /login`. */
          loginRoutes: z.array(z.string().regex(/^[A-Z]+ \//, 'a route: METHOD /path')).optional(),
          /**
           * Lists of routes that share state in the service's memory (a job one starts and another
           * reports on), so they run in the same worker: `[["POST /export", "GET /export/:id"]]`.
           */
          together: z
            .array(z.array(z.string().regex(/^[A-Z]+ \//, 'a route: METHOD /path')).min(2))
            .optional(),
          /** How long a request keeps its database rights, in seconds. Default 300. */
          tokenSeconds: z.int().min(1).max(86_400).optional(),
          /** Request bodies the dispatcher reads for SQL inputs (JSON, forms), at most. Default 1 MiB. */
          maxBodyBytes: z
            .int()
            .min(0)
            .max(64 * 1024 * 1024)
            .optional(),
        }),
      ])
      .optional(),
    /** Third-party modules, made with defineModule(). */
    modules: z.array(moduleSchema).optional(),
    log: z
      .strictObject({
        level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).optional(),
      })
      .optional(),
  });
};

export const configSchema = lazy(makeConfigSchema);

/**
 * The config's schema with a section for each module that declares settings (`csp: { … }`, a
 * third-party module's own): the settings every module reads, and each module's own.
 */
export function configSchemaFor(modules: readonly LeashModule[]) {
  const sections: Record<string, Z.ZodOptional<Z.ZodType>> = {};
  for (const module of modules) {
    if (module.settings !== undefined) sections[module.name] = module.settings.schema.optional();
  }
  return configSchema().extend(sections);
}

export type LeashConfig = Z.input<ReturnType<typeof configSchema>> & {
  /** csp: the report endpoint, the key of its tags, and what to do with a service's own CSP. */
  csp?: Z.input<ReturnType<typeof cspSettingsSchema>>;
};

/** Typed identity: `export default defineConfig({ ... })` gets completion and checking. */
export function defineConfig(config: LeashConfig): LeashConfig {
  return config;
}
