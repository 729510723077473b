/**
 * @module
 * Turns the agent of a service process into an isolated worker, when the supervisor started it
 * as one (`LEASH_ISOLATE_FD` names its end of the channel): the service listens on the worker's
 * private port and says so, its database connections go to the supervisor's proxies, node:sqlite
 * and express-session's memory store are served by the supervisor, and every statement and
 * session operation carries the token of the request it belongs to.
 */
import { currentRequest } from '../../attribution/scope.ts';
import { enableInstrumentations } from '../../instrument/enable.ts';
import { endpoint } from '../../modules/runtime/wrap-net.ts';
import { installRemoteSqlite } from '../sqlite-remote.ts';
import { CHANNEL_FD_ENV, channelClient } from '../sync-channel.ts';
import { type Endpoint, setIsolationHooks } from './hooks.ts';
import { sessionStoreInstrumentation } from './session-store.ts';

/** The worker's private port. */
export const WORKER_PORT_ENV = 'LEASH_ISOLATE_PORT';
/** `host:port=proxyPort` pairs: the database endpoints and the proxy listener for each. */
export const WORKER_DB_ENV = 'LEASH_ISOLATE_DB';

export function isolatedWorkerFd(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const value = env[CHANNEL_FD_ENV];
  if (value === undefined || value === '') return undefined;
  const fd = Number(value);
  return Number.isInteger(fd) && fd > 2 ? fd : undefined;
}

export function installWorker(fd: number, log: { warn: (message: string) => void }): () => void {
  const client = channelClient(fd);
  const port = Number(process.env[WORKER_PORT_ENV]);
  const proxies = new Map<string, Endpoint>();
  for (const pair of (process.env[WORKER_DB_ENV] ?? '').split(',').filter(Boolean)) {
    const at = pair.lastIndexOf('=');
    proxies.set(pair.slice(0, at), { host: '127.0.0.1', port: Number(pair.slice(at + 1)) });
  }
  // The service's own children (a forked helper) are not workers: they have no channel.
  delete process.env[CHANNEL_FD_ENV];
  delete process.env[WORKER_PORT_ENV];
  delete process.env[WORKER_DB_ENV];
  const tokenOf = () => currentRequest()?.token;
  let listened = false;
  setIsolationHooks({
    tokenOf,
    connectTo: (host, p) => proxies.get(endpoint(host, p)),
    listenOn() {
      // The first server the service starts is the one the supervisor fronts.
      if (listened || !Number.isInteger(port) || port <= 0) return undefined;
      listened = true;
      return {
        at: { host: '127.0.0.1', port },
        listening: () => client.call('ready', { pid: process.pid }),
        // Another process took the port between the supervisor's choice and this bind: the
        // supervisor starts this worker again on another port (its kernel rules name this one).
        taken: () => client.call('port-taken', { port }),
      };
    },
  });
  // A worker whose supervisor is gone (killed with SIGKILL: it could not stop its workers) has
  // no front door, no database and no sessions: it ends instead of holding its port.
  const supervisor = process.ppid;
  const orphaned = setInterval(() => {
    if (process.ppid !== supervisor) process.exit(70);
  }, 1000);
  orphaned.unref();
  const uninstalls = [
    () => clearInterval(orphaned),
    installRemoteSqlite(client, tokenOf),
    enableInstrumentations([sessionStoreInstrumentation(client, tokenOf)], [], {
      mode: 'enforce',
      warn: log.warn,
      refuse: (error) => log.warn(error.message),
    }),
  ];
  return () => {
    for (const undo of uninstalls.reverse()) undo();
    setIsolationHooks(undefined);
  };
}
