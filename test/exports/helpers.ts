/** Policies, temporary directories and the real `leash` bin for the export tests. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Policy } from '../../src/core/policy.ts';
import { registryWith } from '../../src/modules/builtin.ts';
import { parsePolicy } from '../../src/store/policy-file.ts';
import { SINGLE_PROCESS_LIMIT } from '../support/processes.ts';

export const BIN = fileURLToPath(new URL('../../bin/leash.js', import.meta.url));
export const FIXTURES = join(import.meta.dirname, 'fixtures');
export const PACKAGE_ROOT = realpathSync(fileURLToPath(new URL('../..', import.meta.url)));

export function tempDir(t: { after(fn: () => void): void }): string {
  // realpath: the grants must name the directory the way the kernel and Node see it.
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'leash-export-')));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * The policy every exporter test starts from: reads of files and globs under a data directory,
 * writes under it and in /tmp, a database and an API, a tar command and a listener.
 */
export function samplePolicy(
  data: string,
  options: { spawn?: boolean } = {},
): Record<string, unknown> {
  const upload: Record<string, string[]> = {
    'fs.write': [`${data}/uploads/*.png`, '/tmp/export-*.tgz'],
  };
  if (options.spawn !== false) upload['child.spawn'] = ['tar -czf {path:/tmp/*.tgz} {arg}'];
  return {
    version: 1,
    runtime: {
      '@startup': {
        app: { 'fs.read': [`${data}/config.json`], 'net.listen': ['127.0.0.1:3000'] },
        pg: { 'net.connect': ['127.0.0.1:5432'] },
      },
      'GET /notes/:id': {
        app: {
          'fs.read': [`${data}/notes/*.md`, `${data}/views/**`],
          'net.connect': ['api.example.com:443'],
        },
      },
      'POST /upload': { app: upload },
    },
  };
}

export function writePolicy(dir: string, content: unknown, name = 'leash.policy.json'): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    typeof content === 'string' ? content : `${JSON.stringify(content, null, 2)}\n`,
  );
  return file;
}

export function parse(content: unknown): Policy {
  return parsePolicy(JSON.stringify(content), {
    file: 'leash.policy.json',
    modules: registryWith(),
  });
}

/** A data directory with a few files, as the sample policy describes. */
export function makeDataDir(dir: string): string {
  const data = join(dir, 'data');
  for (const sub of ['notes', 'uploads', 'views/partials'])
    mkdirSync(join(data, sub), { recursive: true });
  writeFileSync(join(data, 'config.json'), '{}\n');
  writeFileSync(join(data, 'notes', 'a.md'), '# a\n');
  writeFileSync(join(data, 'views', 'partials', 'head.html'), '<head>\n');
  writeFileSync(join(data, 'secret.txt'), 'not granted\n');
  return data;
}

export function leash(cwd: string, ...args: string[]) {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    cwd,
    encoding: 'utf8',
    ...SINGLE_PROCESS_LIMIT,
    env: { ...process.env, NO_COLOR: '1', LEASH_MODE: '', LEASH_POLICY: '', LEASH_CONFIG: '' },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Whether a command runs here at all (installed, and not refused by the environment). */
export function runs(command: string, args: readonly string[]): boolean {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  return result.error === undefined && result.status === 0;
}
