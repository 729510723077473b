/**
 * @module
 * The csp module's settings, declared by the module itself: the config's `csp` section is checked
 * against this schema and laid over these defaults (written here once).
 */
import { lazy, zod } from '../../config/zod.ts';
import type { CspSettings, ModuleSettingsDeclaration } from '../../module/module.ts';

export const DEFAULT_CSP_SETTINGS: CspSettings = Object.freeze({
  reportPath: '/__leash/csp-report',
  key: undefined,
  tagTtlSeconds: 3600,
  maxReportBytes: 65_536,
  reportsPerMinute: 120,
  reportTo: 'auto',
  scriptSources: 'path',
  override: false,
});

/**
 * The report endpoint, the key of its tags, and what to do with a service's own CSP. Made on first
 * use (see config/zod.ts): only a config file with a `csp` section needs it.
 */
export const cspSettingsSchema = lazy(() => {
  const z = zod();
  return z.strictObject({
    /** Path of the report endpoint the agent serves. Default `/__leash/csp-report`. */
    reportPath: z
      .string()
      .regex(/^\/[A-Za-z0-9\-._~/]*$/, 'a path starting with /, without query or spaces')
      .optional(),
    /** HMAC key of the report tags (at least 32 characters); default: `leash.csp.key` next to the policy, made when missing. */
    key: z.string().min(32, 'a csp key has at least 32 characters').optional(),
    /** How long a report tag stays valid, in seconds. Default 3600. */
    tagTtlSeconds: z.int().min(10).max(604_800).optional(),
    /** Largest report body accepted, in bytes. Default 65536. */
    maxReportBytes: z.int().min(1024).max(10_485_760).optional(),
    /** Reports one client may send per minute. Default 120. */
    reportsPerMinute: z.int().min(1).max(100_000).optional(),
    /**
     * Also name the endpoint with `report-to` + `Reporting-Endpoints`. Browsers that support it
     * then use it instead of `report-uri`, in batches, and only for pages they loaded over HTTPS
     * (Chromium drops the reports of an HTTP page that names one). Default `'auto'`: only on
     * responses to HTTPS requests (a TLS socket, or `X-Forwarded-Proto: https` from a proxy).
     */
    reportTo: z.union([z.boolean(), z.literal('auto')]).optional(),
    /** How scripts of other origins are learned: their URL (`'path'`, default) or their origin. */
    scriptSources: z.enum(['path', 'origin']).optional(),
    /** Replace a CSP the service sets itself (default false: leave it alone). */
    override: z.boolean().optional(),
  });
});

export const cspSettings: ModuleSettingsDeclaration<CspSettings> = {
  get schema() {
    return cspSettingsSchema();
  },
  defaults: DEFAULT_CSP_SETTINGS,
};
