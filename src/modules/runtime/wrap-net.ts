/**
 * @module
 * Outbound connections and listening sockets. Every TCP client in Node (net, tls, http, https,
 * fetch/undici) ends in `net.Socket.prototype.connect`, so one wrapper sees host:port before any
 * DNS lookup or packet (HTTP clients are also decided per request, see wrap-http-client.ts); a refusal destroys the socket with the error on the next tick, which is how
 * a failed connect reports. `net.Server.prototype.listen` is checked before binding and marks the
 * end of start-up.
 */
import dns from 'node:dns';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import { markListening } from '../../attribution/scope.ts';
import { isolationHooks, retargetConnect, retargetListen } from '../../isolate/worker/hooks.ts';
import type { RuntimeContext } from './context.ts';
import { isDecidedConnect } from './decided-connects.ts';
import { addOwnEphemeralPort } from './own-ports.ts';

/** `host:port` as the endpoint kind writes it (IPv6 in brackets, host names lower case). */
export function endpoint(host: string, port: number | string): string {
  const h = host.toLowerCase().replace(/\.$/, '');
  return net.isIPv6(h) ? `[${h}]:${port}` : `${h}:${port}`;
}

interface ConnectTarget {
  readonly host: string;
  readonly port: number | string;
}

/** The TCP target of `socket.connect(...)` arguments, or undefined for IPC paths. */
function connectTarget(args: readonly unknown[]): ConnectTarget | undefined {
  let options = args[0];
  // net internals call connect with a normalised [options, cb] array.
  if (Array.isArray(options)) options = options[0];
  if (typeof options === 'object' && options !== null) {
    const o = options as { port?: unknown; host?: unknown; path?: unknown };
    // Node's HTTP agent passes `path: null` with a TCP host and port.
    if (o.path != null) return undefined;
    if (o.port === undefined) return undefined;
    return {
      host: typeof o.host === 'string' && o.host !== '' ? o.host : 'localhost',
      port: o.port as number,
    };
  }
  if (typeof options === 'number' || (typeof options === 'string' && /^\d+$/.test(options))) {
    const host = typeof args[1] === 'string' ? args[1] : 'localhost';
    return { host, port: options };
  }
  return undefined;
}

interface ListenTarget {
  readonly host: string;
  readonly port: number | string;
}

function listenTarget(args: readonly unknown[]): ListenTarget | undefined {
  const first = args[0];
  if (typeof first === 'object' && first !== null) {
    const o = first as {
      port?: unknown;
      host?: unknown;
      path?: unknown;
      handle?: unknown;
      fd?: unknown;
    };
    if (o.path !== undefined || o.handle !== undefined || o.fd !== undefined) return undefined;
    return {
      host: typeof o.host === 'string' ? o.host : '::',
      port: (o.port as number | undefined) ?? 0,
    };
  }
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    return { host: typeof args[1] === 'string' ? args[1] : '::', port: first };
  }
  if (first === undefined || typeof first === 'function') return { host: '::', port: 0 };
  return undefined;
}

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

export function wrapNet(context: RuntimeContext): () => void {
  const socketProto = net.Socket.prototype as unknown as Record<string, AnyFunction>;
  const serverProto = net.Server.prototype as unknown as Record<string, AnyFunction>;
  const originalConnect = socketProto.connect!;
  const originalListen = serverProto.listen!;
  const originalLookup = dns.lookup;
  const originalPromisesLookup = dns.promises.lookup;

  socketProto.connect = function (this: net.Socket, ...args: unknown[]) {
    const target = connectTarget(args);
    const to = target === undefined ? undefined : endpoint(target.host, target.port);
    if (to !== undefined && !isDecidedConnect(to)) {
      try {
        context.check('net.connect', to);
      } catch (error) {
        process.nextTick(() => this.destroy(error as Error));
        return this;
      }
    }
    // In an isolated worker, the database's endpoint (granted above) is the supervisor's proxy.
    const redirect =
      target === undefined
        ? undefined
        : isolationHooks()?.connectTo(target.host, Number(target.port));
    if (redirect !== undefined) return originalConnect.apply(this, retargetConnect(args, redirect));
    return originalConnect.apply(this, args);
  } as AnyFunction;

  serverProto.listen = function (this: net.Server, ...args: unknown[]) {
    const target = listenTarget(args);
    if (target !== undefined) {
      try {
        context.check('net.listen', endpoint(target.host, target.port));
      } catch (error) {
        process.nextTick(() => this.emit('error', error));
        return this;
      }
    }
    this.once('listening', markListening);
    if (target !== undefined && Number(target.port) === 0)
      this.once('listening', () => {
        const address = this.address();
        if (address === null || typeof address !== 'object') return;
        // A connection of this process to itself there is its own business (own-ports.ts).
        this.once('close', addOwnEphemeralPort(address.address, address.port));
      });
    // In an isolated worker, the front door is the supervisor's: the service listens privately.
    const redirect =
      target === undefined
        ? undefined
        : isolationHooks()?.listenOn(target.host, Number(target.port));
    if (redirect !== undefined && target !== undefined) {
      this.once('listening', redirect.listening);
      // EADDRINUSE on the private port is told to the supervisor first. A listener of ours
      // would make a server without one survive the error, so the error is thrown on then, as
      // Node throws an 'error' event nobody listens to.
      const failed = (error: NodeJS.ErrnoException) => {
        if (error.code === 'EADDRINUSE')
          try {
            redirect.taken();
          } catch {
            // The supervisor is gone: the error goes on as it came.
          }
        if (this.listenerCount('error') === 0) throw error;
      };
      this.prependOnceListener('error', failed);
      this.once('listening', () => this.off('error', failed));
      // The service sees the address it asked for (what it prints, the URLs it builds): the
      // supervisor listens there and forwards to the private port.
      const asked = { address: target.host, port: Number(target.port) };
      this.address = () => ({
        ...asked,
        family: net.isIPv6(asked.address) ? 'IPv6' : 'IPv4',
      });
      return originalListen.apply(this, retargetListen(args, redirect.at));
    }
    return originalListen.apply(this, args);
  } as AnyFunction;

  dns.lookup = function (this: unknown, ...args: unknown[]) {
    if (typeof args[0] === 'string' && !net.isIP(args[0])) {
      try {
        context.check('dns.lookup', args[0].toLowerCase());
      } catch (error) {
        const callback = args[args.length - 1];
        if (typeof callback === 'function') {
          process.nextTick(() => callback(error));
          return {};
        }
        throw error;
      }
    }
    return (originalLookup as unknown as AnyFunction).apply(this, args);
  } as typeof dns.lookup;

  dns.promises.lookup = function (this: unknown, ...args: unknown[]) {
    if (typeof args[0] === 'string' && !net.isIP(args[0])) {
      try {
        context.check('dns.lookup', args[0].toLowerCase());
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return (originalPromisesLookup as unknown as AnyFunction).apply(this, args);
  } as typeof dns.promises.lookup;
  syncBuiltinESMExports();

  return () => {
    socketProto.connect = originalConnect;
    serverProto.listen = originalListen;
    dns.lookup = originalLookup;
    dns.promises.lookup = originalPromisesLookup;
    syncBuiltinESMExports();
  };
}
