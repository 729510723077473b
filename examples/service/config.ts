/**
 * @module
 * The service's configuration, read from the environment once at startup.
 */
import { randomBytes } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The partner API's default port (partner.ts listens there unless told otherwise). */
export const PARTNER_DEFAULT_PORT = 4001;

/** The loopback "CDN" (cdn.ts): on an address of its own, as a real CDN is on a host of its own. */
export const CDN_HOST = '127.0.0.2';
export const CDN_DEFAULT_PORT = 4002;

export interface Config {
  port: number;
  dataDir: string;
  uploadsDir: string;
  exportsDir: string;
  viewsDir: string;
  publicDir: string;
  partnerUrl: string;
  /** Where the pages load their script, stylesheet, font and images from (cdn.ts). */
  cdnOrigin: string;
  /** Known to the deployment but never used by legitimate code: what an SSRF would go after. */
  metadataUrl: string | undefined;
  sessionSecret: string;
  /** `postgres://…` to store data in PostgreSQL; unset: SQLite in `<dataDir>/notes.db`. */
  databaseUrl: string | undefined;
}

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

function databaseUrl(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^postgres(ql)?:\/\//.test(value)) throw new Error('DATABASE_URL must be a postgres:// URL');
  return value;
}

export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const dataDir = env.DATA_DIR ? resolve(env.DATA_DIR) : here('./data');
  if (!isAbsolute(dataDir)) throw new Error(`DATA_DIR must resolve to an absolute path`);
  const port = Number(env.PORT ?? 0);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad PORT ${env.PORT}`);
  return {
    port,
    dataDir,
    uploadsDir: resolve(dataDir, 'uploads'),
    exportsDir: resolve(dataDir, 'exports'),
    viewsDir: here('./views'),
    publicDir: here('./public'),
    partnerUrl: env.PARTNER_URL ?? `http://127.0.0.1:${PARTNER_DEFAULT_PORT}`,
    cdnOrigin: new URL(env.CDN_ORIGIN || `http://${CDN_HOST}:${CDN_DEFAULT_PORT}`).origin,
    metadataUrl: env.METADATA_URL,
    // A per-process random secret is enough for an in-memory session store.
    sessionSecret: env.SESSION_SECRET ?? randomBytes(32).toString('hex'),
    databaseUrl: databaseUrl(env.DATABASE_URL),
  };
}
