// The HTTP adapters every conformance suite runs against, and how to start each one's fixture.
// Express 4 and Fastify 4 are installed under npm aliases (`express4`, `fastify4`), laid out
// under their real names by test/support/aliases.ts.
import { fileURLToPath } from 'node:url';
import { aliasedEntry } from '../support/aliases.ts';

export interface Adapter {
  readonly name: string;
  readonly fixture: string;
  /**
   * Where a path no route handles is attributed (the fixture's not-found handler reads
   * DATA_DIR/fallback.txt), or undefined when the fixture has no handler of its own.
   */
  readonly unmatched: string | undefined;
  /**
   * The scope of files the fixture serves from DATA_DIR/assets through static-file middleware
   * (`/assets/...`), or undefined when it serves none.
   */
  readonly staticScope: string | undefined;
  /** Extra environment of the fixture. */
  env(): NodeJS.ProcessEnv;
  /** How the framework writes a path parameter in a template (`:id`, Hapi's `{id}`). */
  readonly braces?: boolean;
}

/** A route template written with `:name` parameters, in the adapter's own syntax. */
export function template(adapter: Adapter, route: string): string {
  return adapter.braces === true ? route.replace(/:(\w+)/g, '{$1}') : route;
}

export const ADAPTERS: readonly Adapter[] = [
  {
    name: 'node:http',
    fixture: 'http-service.mjs',
    unmatched: 'GET /nope/deeper',
    staticScope: undefined,
    env: () => ({}),
  },
  {
    name: 'Express 4',
    fixture: 'express-service.mjs',
    unmatched: '@unmatched',
    staticScope: 'GET /assets/*',
    env: () => ({ EXPRESS_ENTRY: aliasedEntry('express4', 'express', 'index.js') }),
  },
  {
    name: 'Express 5',
    fixture: 'express-service.mjs',
    unmatched: '@unmatched',
    staticScope: 'GET /assets/*',
    env: () => ({}),
  },
  {
    name: 'Fastify 4',
    fixture: 'fastify-service.mjs',
    unmatched: '@unmatched',
    staticScope: undefined,
    env: () => ({ FASTIFY_ENTRY: aliasedEntry('fastify4', 'fastify', 'fastify.js') }),
  },
  {
    name: 'Fastify 5',
    fixture: 'fastify-service.mjs',
    unmatched: '@unmatched',
    // @fastify/static registers `/assets/*` as a route.
    staticScope: 'GET /assets/*',
    env: () => ({}),
  },
  {
    name: 'NestJS 12 (Express)',
    fixture: 'nest-service.mjs',
    unmatched: undefined,
    staticScope: undefined,
    env: () => ({}),
  },
  {
    name: 'NestJS 12 (Fastify)',
    fixture: 'nest-service.mjs',
    unmatched: undefined,
    staticScope: undefined,
    env: () => ({ NEST_PLATFORM: 'fastify' }),
  },
  {
    name: 'Hapi 21',
    fixture: 'hapi-service.mjs',
    braces: true,
    unmatched: '@unmatched',
    staticScope: undefined,
    env: () => ({}),
  },
  {
    name: 'Koa 3',
    fixture: 'koa-service.mjs',
    // koa-static serves the data directory at the root: a GET no route handles is its scope.
    unmatched: 'GET /*',
    staticScope: 'GET /*',
    env: () => ({}),
  },
];

export function fixturePath(adapter: Adapter): string {
  return fileURLToPath(new URL(`./fixtures/${adapter.fixture}`, import.meta.url));
}

/** Every rule of a runtime section as [scope, package, capability, resource]. */
export function runtimeRules(section: Record<string, unknown> | undefined): string[][] {
  const out: string[][] = [];
  for (const [scope, packages] of Object.entries(section ?? {}))
    for (const [pkg, capabilities] of Object.entries(packages as Record<string, unknown>))
      for (const [capability, resources] of Object.entries(capabilities as Record<string, unknown>))
        for (const resource of resources as string[]) out.push([scope, pkg, capability, resource]);
  return out;
}
