// The HTTP adapters every conformance suite runs against, and how to start each one's fixture.
// Express 4 is installed under an npm alias (`express4`); a copy of it is laid out as
// `node_modules/express` in a temporary directory, so that the service loads a package named
// `express` (as a real Express 4 service does) and its dependencies resolve from this repository.
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Adapter {
  readonly name: string;
  readonly fixture: string;
  /** Where a path no route handles is attributed. */
  readonly unmatched: string;
  /**
   * The scope of files the fixture serves from DATA_DIR/assets through static-file middleware
   * (`/assets/...`), or undefined when it serves none.
   */
  readonly staticScope: string | undefined;
  /** Extra environment of the fixture. */
  env(): NodeJS.ProcessEnv;
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

let express4: string | undefined;
/** The entry of an Express 4 laid out as `node_modules/express` (made once per process). */
function express4Entry(): string {
  if (express4 === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'leash-express4-'));
    const target = join(dir, 'node_modules', 'express');
    cpSync(join(ROOT, 'node_modules', 'express4'), target, { recursive: true });
    express4 = join(target, 'index.js');
  }
  return express4;
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
    env: () => ({ EXPRESS_ENTRY: express4Entry(), NODE_PATH: join(ROOT, 'node_modules') }),
  },
  {
    name: 'Express 5',
    fixture: 'express-service.mjs',
    unmatched: '@unmatched',
    staticScope: 'GET /assets/*',
    env: () => ({}),
  },
  {
    name: 'Fastify 5',
    fixture: 'fastify-service.mjs',
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
