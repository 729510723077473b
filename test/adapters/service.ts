// The conformance services: a fresh directory per service with the adapter's fixture, a data
// directory and a config naming the principal, started under `leash learn` or
// `leash enforce --layer=process` (so nothing but the in-process layer can be what refuses).
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Running, startUnder } from '../runtime/helpers.ts';
import { readPolicyJson } from '../support/policy-json.ts';
import { type Adapter, fixturePath } from './adapters.ts';

export interface Service {
  readonly dir: string;
  readonly dataDir: string;
  readonly env: NodeJS.ProcessEnv;
  start(mode: 'learn' | 'enforce'): Promise<Running>;
  policy(): Record<string, unknown>;
}

export function service(adapter: Adapter, env: NodeJS.ProcessEnv = {}): Service {
  const dir = mkdtempSync(join(tmpdir(), 'leash-adapter-'));
  const dataDir = join(dir, 'data');
  for (const sub of ['', 'uploads', 'bodies', 'assets', 'assets/css'])
    mkdirSync(join(dataDir, sub), { recursive: true });
  for (const name of ['1', '2', '3', '4', 'fallback.txt'])
    writeFileSync(join(dataDir, name), `note ${name}`);
  writeFileSync(
    join(dir, 'leash.config.json'),
    JSON.stringify({ dataDirs: ['./data'], principal: 'req.user' }),
  );
  const fullEnv = { DATA_DIR: dataDir, ...adapter.env(), ...env };
  return {
    dir,
    dataDir,
    env: fullEnv,
    start: (mode) =>
      startUnder(
        mode === 'learn'
          ? ['learn', '--', process.execPath, fixturePath(adapter)]
          : ['enforce', '--layer=process', '--', process.execPath, fixturePath(adapter)],
        { cwd: dir, env: fullEnv },
      ),
    policy: () => readPolicyJson(join(dir, 'leash.policy.json'), { app: dir }),
  };
}

/**
 * A request as `user` (the `x-user` header a trusted proxy sets); a body makes it a POST: an object
 * is sent as JSON, URLSearchParams as a form.
 */
export async function asUser(
  base: string,
  user: string,
  path: string,
  body?: object | URLSearchParams,
) {
  const form = body instanceof URLSearchParams;
  const response = await fetch(new URL(path, base), {
    method: body === undefined ? 'GET' : 'POST',
    headers: {
      'x-user': user,
      ...(body === undefined || form ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: form ? body : JSON.stringify(body) }),
  });
  return { status: response.status, body: await response.text() };
}
