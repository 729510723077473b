/**
 * @module
 * Installs every HTTP adapter: request scopes for node:http, and route templates for the
 * frameworks leash knows, on the instrumentation layer.
 */
import { type EnableOptions, enableInstrumentations } from '../instrument/enable.ts';
import type { Instrumentation } from '../instrument/instrumentation.ts';
import { expressInstrumentation } from './express/instrument.ts';
import { fastifyInstrumentation, findMyWayInstrumentation } from './fastify/instrument.ts';
import { hapiInstrumentation } from './hapi/instrument.ts';
import { koaComposeInstrumentation } from './koa/instrument.ts';
import { installHttpAdapter } from './node-http/adapter.ts';

export const FRAMEWORK_INSTRUMENTATIONS: readonly Instrumentation[] = [
  expressInstrumentation,
  fastifyInstrumentation,
  findMyWayInstrumentation,
  koaComposeInstrumentation,
  hapiInstrumentation,
];

export function installAdapters(options: EnableOptions): () => void {
  const uninstalls = [
    installHttpAdapter(),
    enableInstrumentations(FRAMEWORK_INSTRUMENTATIONS, [], options),
  ];
  return () => {
    for (const uninstall of uninstalls.reverse()) uninstall();
  };
}
