/**
 * @module
 * Installs every HTTP adapter: request scopes for node:http, and route templates for the
 * frameworks leash knows.
 */
import { instrumentExpress } from './express/instrument.ts';
import { instrumentFastify } from './fastify/instrument.ts';
import { installHttpAdapter } from './node-http/adapter.ts';

export function installAdapters(warn: (message: string) => void): () => void {
  const uninstalls = [installHttpAdapter(), instrumentExpress(warn), instrumentFastify(warn)];
  return () => {
    for (const uninstall of uninstalls.reverse()) uninstall();
  };
}
