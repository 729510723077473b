/**
 * @module
 * The modules leash ships, in the order `policy show` lists them.
 */
import { createRegistry, type LeashModule, type ModuleRegistry } from '../module/module.ts';
import { cspModule } from './csp/module.ts';
import { runtimeModule } from './runtime/module.ts';
import { sqlModule } from './sql/module.ts';

export const BUILTIN_MODULES: readonly LeashModule[] = [runtimeModule, sqlModule, cspModule];

/** The built-in modules plus a config's own. */
export function registryWith(extra: readonly LeashModule[] = []): ModuleRegistry {
  return createRegistry([...BUILTIN_MODULES, ...extra]);
}
