/**
 * @module
 * DNS queries that bypass `dns.lookup`: `dns.Resolver`, `dns.promises.Resolver` and the
 * `dns.resolve*` functions send their own queries (to any server `setServers` names, which makes
 * them a way to send data out). Each is checked as `dns.lookup` of the name it asks for, before
 * the query leaves; a refusal arrives as a failed query does (callback or rejected promise).
 */
import dns from 'node:dns';
import { syncBuiltinESMExports } from 'node:module';
import type { RuntimeContext } from './context.ts';

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

const METHODS = [
  'resolve',
  'resolve4',
  'resolve6',
  'resolveAny',
  'resolveCaa',
  'resolveCname',
  'resolveMx',
  'resolveNaptr',
  'resolveNs',
  'resolvePtr',
  'resolveSoa',
  'resolveSrv',
  'resolveTlsa',
  'resolveTxt',
] as const;

export function wrapDnsResolver(context: RuntimeContext): () => void {
  const restore: Array<() => void> = [];
  const wrap = (target: Record<string, unknown>, promises: boolean) => {
    for (const name of METHODS) {
      const original = target[name];
      if (typeof original !== 'function') continue;
      const wrapped = function (this: unknown, ...args: unknown[]) {
        const hostname = String(args[0]);
        args[0] = hostname;
        try {
          context.check('dns.lookup', hostname.toLowerCase());
        } catch (error) {
          if (promises) return Promise.reject(error);
          const callback = args[args.length - 1];
          if (typeof callback !== 'function') throw error;
          process.nextTick(() => callback(error));
          return undefined;
        }
        return (original as AnyFunction).apply(this, args);
      };
      Object.defineProperty(wrapped, 'name', { value: (original as AnyFunction).name });
      target[name] = wrapped;
      restore.push(() => {
        target[name] = original;
      });
    }
  };
  wrap(dns.Resolver.prototype as unknown as Record<string, unknown>, false);
  wrap(dns.promises.Resolver.prototype as unknown as Record<string, unknown>, true);
  // The module's functions are bound to a default resolver when Node loads: wrapped on their own.
  wrap(dns as unknown as Record<string, unknown>, false);
  wrap(dns.promises as unknown as Record<string, unknown>, true);
  syncBuiltinESMExports();
  return () => {
    for (const undo of restore.reverse()) undo();
    syncBuiltinESMExports();
  };
}
