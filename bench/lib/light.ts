/**
 * @module
 * What every benchmark of the light service (bench/fixtures/light) starts with: its environment
 * and, for the by-hand tools, its learned policy.
 */
import { join } from 'node:path';
import { launchAndWait, stopGroup } from '../../examples/service/start.ts';

export const LIGHT_DIR = join(import.meta.dirname, '..', 'fixtures', 'light');

/**
 * The light service's environment on `port`, reading the database in `dataDir`: no leash setting
 * inherited from the caller's, and not marked as a test (the test runner marks its children).
 */
export function lightEnv(dataDir: string, port: number): NodeJS.ProcessEnv {
  const { NODE_TEST_CONTEXT: _, ...inherited } = process.env;
  return {
    ...inherited,
    LEASH_CONFIG: '',
    LEASH_MODE: '',
    NO_COLOR: '1',
    PORT: String(port),
    DATA_DIR: dataDir,
  };
}

/**
 * Learns the light service's policy into `policyFile` with `leash learn` (`leashBin`): items
 * 1–12 of both routes, as bench/light.bench.ts learns it. Throws on a request that fails.
 */
export async function learnLightPolicy(
  leashBin: string,
  policyFile: string,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  const learning = await launchAndWait(
    [
      process.execPath,
      leashBin,
      'learn',
      '--policy',
      policyFile,
      '--',
      process.execPath,
      'server.ts',
    ],
    env,
    90_000,
    LIGHT_DIR,
  );
  try {
    for (let id = 1; id <= 12; id++) {
      for (const path of [`/items/${id}`, `/api/items/${id}`]) {
        const res = await fetch(learning.url + path);
        await res.text();
        if (!res.ok) throw new Error(`learning: GET ${path}: ${res.status}`);
      }
    }
  } finally {
    await stopGroup(learning.child);
  }
}
