/**
 * @module
 * Where an isolated worker listens. The supervisor chooses the port, tests that it is free and
 * only then starts the worker, whose kernel rules allow binding that port alone; in between,
 * another process can take it. A port from `listen(0)` comes from the kernel's ephemeral range,
 * which every other `listen(0)` and every outgoing connection on the machine draws from, so under
 * load that happens. A port below the range (or above it) is handed out by no one: only a process
 * that asks for that very port can take it. The worker pool still starts a worker whose port was
 * taken again on another one (worker-pool.ts).
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { LeashError } from '../errors.ts';

export interface PortRange {
  readonly low: number;
  readonly high: number;
}

/** Worker ports start here: below are the fixed ports services and databases are known by. */
export const WORKER_PORTS_FROM = 10_000;
const LAST_PORT = 65_535;
/** Random ports tested before falling back to one the kernel picks. */
const TRIES = 16;

/** The kernel's ephemeral port range (`ip_local_port_range`), or undefined when unknown. */
export function ephemeralRange(text: string | undefined = readRange()): PortRange | undefined {
  const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(text ?? '');
  if (m === null) return undefined;
  const low = Number(m[1]);
  const high = Number(m[2]);
  return low >= 1 && low <= high && high <= LAST_PORT ? { low, high } : undefined;
}

function readRange(): string | undefined {
  try {
    return readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8');
  } catch {
    return undefined;
  }
}

/** Listens on 127.0.0.1:port (0: any) and closes again; the port it had, or undefined if taken. */
async function probe(port: number): Promise<number | undefined> {
  const server = net.createServer();
  const bound = await new Promise<number | undefined>((resolve) => {
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
  });
  if (bound !== undefined) await new Promise((resolve) => server.close(resolve));
  return bound;
}

/**
 * A free loopback port for a worker: a random one outside the ephemeral range, from
 * `WORKER_PORTS_FROM` up, not in `avoid` (the ports other workers were given and may not have
 * bound yet). Where the range is unknown, leaves no room, or every port tried is taken, a port
 * the kernel picks (`listen(0)`), as before.
 */
export async function workerPort(
  options: {
    readonly range?: PortRange | undefined;
    readonly from?: number;
    readonly avoid?: ReadonlySet<number>;
  } = {},
): Promise<number> {
  const range = 'range' in options ? options.range : ephemeralRange();
  const from = options.from ?? WORKER_PORTS_FROM;
  if (range !== undefined) {
    const below = Math.max(0, range.low - from);
    const above = Math.max(0, LAST_PORT - Math.max(range.high, from - 1));
    for (let i = 0; i < TRIES && below + above > 0; i++) {
      const n = Math.floor(Math.random() * (below + above));
      const port = n < below ? from + n : Math.max(range.high, from - 1) + 1 + (n - below);
      if (options.avoid?.has(port)) continue;
      if ((await probe(port)) !== undefined) return port;
    }
  }
  for (let i = 0; ; i++) {
    const port = await probe(0);
    if (port === undefined)
      throw new LeashError(
        'ERR_LEASH_ISOLATE',
        'no loopback port is free for a worker (listening on 127.0.0.1:0 failed)',
      );
    if (!options.avoid?.has(port) || i === TRIES) return port;
  }
}
