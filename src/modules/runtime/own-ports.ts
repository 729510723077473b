/**
 * @module
 * The ports this process listens on that the system picked (`listen(0)`, what a test suite does
 * with its own server). A connection from the process to its own server there is neither learned
 * nor checked: its port is a new one each run (a policy could only ever list the last), and
 * reaching itself gives the caller nothing it does not already have. Only the server's own
 * address counts: `127.0.0.9` on the same port number is another server, unless this one listens
 * on every address.
 */

/** Port → the endpoint hosts it is reached at (`*`: any loopback address). */
const servers = new Map<number, Set<string>>();

const LOOPBACK = /^(?:127(?:\.\d{1,3}){3}|\[::1\]|localhost|\[::ffff:127(?:\.\d{1,3}){3}\])$/;
const EVERY_ADDRESS = new Set(['0.0.0.0', '::', '[::]', '']);

/** `host` as the server's `address()` gives it; returns how to forget the server. */
export function addOwnEphemeralPort(host: string, port: number): () => void {
  const bound = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const key = EVERY_ADDRESS.has(host) ? '*' : bound.toLowerCase();
  const hosts = servers.get(port) ?? new Set<string>();
  hosts.add(key);
  servers.set(port, hosts);
  return () => {
    hosts.delete(key);
    if (hosts.size === 0) servers.delete(port);
  };
}

/** Whether `host:port` (an endpoint key) reaches one of this process's own such servers. */
export function isOwnEphemeralEndpoint(key: string): boolean {
  if (servers.size === 0) return false;
  const at = key.lastIndexOf(':');
  if (at <= 0) return false;
  const hosts = servers.get(Number(key.slice(at + 1)));
  if (hosts === undefined) return false;
  const host = key.slice(0, at);
  if (hosts.has(host)) return true;
  return hosts.has('*') && LOOPBACK.test(host);
}
