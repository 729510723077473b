/**
 * @module
 * Installs every HTTP adapter: request scopes for node:http, and route templates for the
 * frameworks leash knows.
 */
import { expressRoute } from './express/route-of.ts';
import { instrumentFastify } from './fastify/instrument.ts';
import { addRouteResolver, installHttpAdapter } from './node-http/adapter.ts';

export function installAdapters(warn: (message: string) => void): () => void {
  const uninstalls = [
    installHttpAdapter(),
    addRouteResolver(expressRoute),
    instrumentFastify(warn),
  ];
  return () => {
    for (const uninstall of uninstalls.reverse()) uninstall();
  };
}
