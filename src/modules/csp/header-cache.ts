/**
 * @module
 * The CSP headers of a page route, computed once per route and time bucket instead of per
 * response. Compiling the policy and signing its report tag (an HMAC) for every HTML response was
 * most of what the csp module cost a light route; now the only per-response work is splicing the
 * response's nonce into a precompiled header.
 *
 * A tag is signed as if at the end of its bucket, so every tag handed out expires at least the
 * configured time after the response that carried it (and at most one bucket later). The policy
 * tree does not change outside learning, and while learning the header does not depend on it, so
 * the route and bucket are the whole key.
 */
import { BoundedCache } from '../../core/bounded-cache.ts';

/** Splits a compiled header around the nonce; never a character a header or base64 holds. */
export const NONCE_SLOT = '\u0000';

export interface RouteHeaders {
  /** The CSP header value for this response's nonce (or none). */
  readonly policy: string;
  /** The `Reporting-Endpoints` value, when report-to is used. */
  readonly endpoints: string | undefined;
}

export interface HeaderCacheOptions {
  readonly ttlSeconds: number;
  /** A signed tag naming `route`, valid for the TTL from `at` (ms). */
  readonly sign: (route: string, at: number) => string;
  /** The policy header with `report-uri url`; `nonce` is NONCE_SLOT when the response has one. */
  readonly compile: (
    route: string,
    url: string,
    reportTo: boolean,
    nonce: string | undefined,
  ) => string;
  readonly endpoints: (url: string) => string;
  readonly reportPath: string;
  readonly now?: () => number;
}

interface Entry {
  readonly bucket: number;
  /** The policy split at NONCE_SLOT: joined with the nonce per response. */
  readonly parts: readonly string[];
  readonly endpoints: string | undefined;
}

// Routes are the policy's page routes, so this bound is only a guard.
const MAX_ROUTES = 4096;

export function createHeaderCache(options: HeaderCacheOptions) {
  const now = options.now ?? Date.now;
  // A quarter of the TTL: a tag lives between TTL and 1.25 TTL, and is re-signed 4 times per TTL.
  const bucketMs = Math.max(1000, Math.floor((options.ttlSeconds * 1000) / 4));
  const entries = new BoundedCache<string, Entry>(MAX_ROUTES);

  return {
    headers(route: string, reportTo: boolean, nonce: string | undefined): RouteHeaders {
      const bucket = Math.floor(now() / bucketMs);
      const key = `${nonce === undefined ? '0' : '1'}${reportTo ? '1' : '0'}${route}`;
      let entry = entries.get(key);
      if (entry === undefined || entry.bucket !== bucket) {
        const url = `${options.reportPath}?t=${options.sign(route, (bucket + 1) * bucketMs)}`;
        const policy = options.compile(
          route,
          url,
          reportTo,
          nonce === undefined ? undefined : NONCE_SLOT,
        );
        entry = {
          bucket,
          parts: policy.split(NONCE_SLOT),
          endpoints: reportTo ? options.endpoints(url) : undefined,
        };
        entries.set(key, entry);
      }
      return {
        policy: nonce === undefined ? entry.parts[0]! : entry.parts.join(nonce),
        endpoints: entry.endpoints,
      };
    },
  };
}
