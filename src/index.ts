/**
 * @module
 * leash's public API: configuration, the module API for third-party modules, the policy engine.
 */
export {
  addRequestInterceptor,
  type RequestInterceptor,
} from './adapters/node-http/adapter.ts';
export { type Agent, type AgentOptions, startAgent, startAgentPrepared } from './agent/agent.ts';
export { currentRequest, currentScope, type RequestState } from './attribution/scope.ts';
export { loadConfig, type ResolvedConfig } from './config/load.ts';
export { defineConfig, type LeashConfig } from './config/schema.ts';
export type { Collapse, Kind, SimplifyOptions } from './core/kind.ts';
export { commandKind } from './core/kinds/command.ts';
export { cspSourceKind } from './core/kinds/csp-source.ts';
export { endpointKind } from './core/kinds/endpoint.ts';
export { literalKind } from './core/kinds/literal.ts';
export { pathKind } from './core/kinds/path.ts';
export * as policy from './core/policy.ts';
export * as tree from './core/tree.ts';
export { ERROR_CODES, type ErrorCode, isLeashError, LeashError } from './errors.ts';
export {
  defineModule,
  type LeashModule,
  type Mode,
  type ModuleHost,
  type ModuleSettings,
  type ModuleSettingsDeclaration,
  type UseContext,
  type Verdict,
} from './module/module.ts';
