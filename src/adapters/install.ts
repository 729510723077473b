/**
 * @module
 * Installs every HTTP adapter: request scopes for node:http, and route templates for the
 * frameworks leash knows.
 */
import { installHttpAdapter } from './node-http/adapter.ts';

export function installAdapters(): () => void {
  const uninstalls = [installHttpAdapter()];
  return () => {
    for (const uninstall of uninstalls.reverse()) uninstall();
  };
}
