// The adversarial suite's harness: learn the attack service's one legitimate route, then run it
// under `leash enforce` and send attacker code to the route the policy grants nothing.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { kernelSupport } from '../../src/supervisor/kernel/helper.ts';
import { type Running, startUnder } from '../runtime/helpers.ts';

export const SERVICE = fileURLToPath(new URL('./fixtures/attack-service.mjs', import.meta.url));
/** leash's in-process off switch, importable by file path (the hole the kernel layer backs up). */
export const INTERNAL_URL = pathToFileURL(
  fileURLToPath(new URL('../../src/attribution/internal.ts', import.meta.url)),
).href;

const support = kernelSupport();
/** Set when this machine cannot run the kernel layer (the suite is skipped, saying why). */
export const NO_KERNEL: string | undefined =
  support.problem === undefined ? undefined : `no kernel layer here: ${support.problem}`;

export interface Workspace {
  readonly work: string;
  readonly dataDir: string;
  readonly policyFile: string;
  /** A file outside every grant, and its content. */
  readonly secret: string;
  readonly secretText: string;
}

export async function learnWorkspace(): Promise<Workspace> {
  const work = realpathSync(mkdtempSync(join(tmpdir(), 'leash-adversarial-')));
  const dataDir = join(work, 'data');
  mkdirSync(dataDir);
  writeFileSync(join(dataDir, 'public.txt'), 'public words');
  const secret = join(work, 'secret.txt');
  const secretText = `secret-${process.pid}-${Date.now()}`;
  writeFileSync(secret, secretText);
  const policyFile = join(work, 'leash.policy.json');
  const service = await startUnder(
    ['learn', '--policy', policyFile, '--', process.execPath, SERVICE],
    {
      cwd: work,
      env: { DATA_DIR: dataDir },
    },
  );
  try {
    const answer = await get(service.base, '/public');
    assert.equal(answer.value, 'public words');
  } finally {
    await service.stop();
  }
  return { work, dataDir, policyFile, secret, secretText };
}

export function enforce(
  space: Workspace,
  options: { layer?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Running> {
  const layer = options.layer === undefined ? [] : [`--layer=${options.layer}`];
  return startUnder(
    ['enforce', ...layer, '--policy', space.policyFile, '--', process.execPath, SERVICE],
    { cwd: space.work, env: { DATA_DIR: space.dataDir, ...options.env } },
  );
}

export interface Answer {
  readonly ok: boolean;
  readonly value?: unknown;
  readonly code?: string | null;
  readonly message?: string;
}

export async function get(base: string, path: string): Promise<Answer> {
  const response = await fetch(new URL(path, base));
  return (await response.json()) as Answer;
}

/** Runs `code` (an async function body with `require` and `process`) in the ungranted route. */
export async function attack(base: string, code: string): Promise<Answer> {
  const response = await fetch(new URL('/attack', base), { method: 'POST', body: code });
  return (await response.json()) as Answer;
}
