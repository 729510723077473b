/**
 * @module
 * The ports this process listens on that the system picked (`listen(0)`, what a test suite does
 * with its own server). A connection from the process to itself on one of them is neither learned
 * nor checked: its port is a new one each run (a policy could only ever list the last), and
 * reaching itself gives the caller nothing it does not already have.
 */

const ports = new Set<number>();

const LOOPBACK = /^(?:127(?:\.\d{1,3}){3}|\[::1\]|localhost|\[::ffff:127(?:\.\d{1,3}){3}\])$/;

export function addOwnEphemeralPort(port: number): () => void {
  ports.add(port);
  return () => ports.delete(port);
}

/** Whether `host:port` (an endpoint key) is a loopback address on such a port. */
export function isOwnEphemeralEndpoint(key: string): boolean {
  if (ports.size === 0) return false;
  const at = key.lastIndexOf(':');
  return at > 0 && ports.has(Number(key.slice(at + 1))) && LOOPBACK.test(key.slice(0, at));
}
