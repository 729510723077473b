/**
 * @module
 * Whether the browser loaded a page over HTTPS. It decides `report-to`: Chromium keeps the
 * Reporting-API reports of an HTTP page queued forever (and, with `report-to` present, sends none
 * to `report-uri` either), so an HTTP page must name `report-uri` alone.
 *
 * Behind a TLS-terminating proxy the service sees HTTP; the proxy's `X-Forwarded-Proto` or
 * `Forwarded: proto=` says what the browser used. Trusting it is safe here: a client that lies
 * only changes how its own browser would report.
 */
import type { IncomingMessage } from 'node:http';

export function servedOverHttps(request: IncomingMessage): boolean {
  if ((request.socket as { encrypted?: boolean } | undefined)?.encrypted === true) return true;
  const forwardedProto = request.headers['x-forwarded-proto'];
  if (typeof forwardedProto === 'string')
    return forwardedProto.split(',', 1)[0]!.trim().toLowerCase() === 'https';
  const forwarded = request.headers.forwarded;
  if (typeof forwarded === 'string') {
    // The first hop is the one the browser spoke to.
    const proto = /(?:^|;)\s*proto\s*=\s*"?([A-Za-z]+)"?/i.exec(forwarded.split(',', 1)[0]!);
    return proto?.[1]?.toLowerCase() === 'https';
  }
  return false;
}
