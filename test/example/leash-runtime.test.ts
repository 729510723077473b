// leash's runtime module on the example service, end to end: learn from the learning workload,
// then enforce. The held-out workload (other users, files, parameters) must pass untouched, and
// every attack must be refused: by both layers together, by leash's in-process checks alone, and
// (for what Node can express) by Node's own permission flags alone. Loopback only.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort, startExample } from '../../examples/service/start.ts';
import { attacks, heldOutWorkload, learningWorkload } from '../../examples/service/workload.ts';
import { readPolicyJson } from '../support/policy-json.ts';

const BIN = fileURLToPath(new URL('../../bin/leash.js', import.meta.url));
const SERVICE_DIR = fileURLToPath(new URL('../../examples/service/', import.meta.url));

let work: string;
let dataDir: string;
let policyFile: string;
let ports: { server: number; partner: number };

async function startUnder(mode: string, ...options: string[]) {
  return startExample({
    dataDir,
    cwd: SERVICE_DIR,
    ports,
    env: { LEASH_CONFIG: '', LEASH_MODE: '', NO_COLOR: '1' },
    wrap: (command) => [
      process.execPath,
      BIN,
      mode,
      ...options,
      '--policy',
      policyFile,
      '--',
      ...command,
    ],
  });
}

function violations(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((line) => line.includes('"event":"violation"'))
    .map((line) => JSON.parse(line).facts.join(' › '));
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'leash-example-'));
  dataDir = join(work, 'data');
  policyFile = join(work, 'leash.policy.json');
  ports = { server: await freePort(), partner: await freePort() };
  const service = await startUnder('learn');
  try {
    const summary = await learningWorkload(service.base);
    assert.deepEqual(summary.failures, []);
  } finally {
    await service.stop();
  }
});

test('the learned policy is small enough to review and generalised per route', () => {
  const policy = readPolicyJson(policyFile, {
    app: SERVICE_DIR,
    env: { PORT: String(ports.server) },
  });
  const rules = Object.values(
    policy.runtime as Record<string, Record<string, Record<string, string[]>>>,
  ).flatMap((pkgs) => Object.values(pkgs).flatMap((caps) => Object.values(caps).flat()));
  assert.ok(rules.length <= 40, `${rules.length} rules`);
  assert.deepEqual(policy.runtime['GET /files/:name'], {
    app: { 'fs.read': [`${dataDir}/uploads/*/*`] },
  });
  assert.ok(
    policy.runtime['@loader'].node['fs.read'].includes(`${SERVICE_DIR.replace(/\/$/, '')}/**`),
  );
});

const LAYER_NAMES = {
  all: 'in process, Node flags and the kernel',
  both: 'in process and Node flags',
  process: 'in process alone',
} as const;

for (const layer of ['all', 'both', 'process'] as const) {
  test(`enforce (${LAYER_NAMES[layer]}): zero refusals on the held-out workload, every attack refused`, async () => {
    const service = await startUnder('enforce', `--layer=${layer}`);
    const attackDir = mkdtempSync(join(tmpdir(), 'leash-attack-'));
    try {
      const summary = await heldOutWorkload(service.base);
      assert.deepEqual(summary.failures, [], service.output().stderr);
      for (const attack of attacks(service.base, {
        tmpDir: attackDir,
        metadataBase: service.metadataBase,
      })) {
        const result = await attack.run();
        assert.equal(result.succeeded, false, `${attack.name} got through: ${result.evidence}`);
      }
    } finally {
      await service.stop();
    }
    assert.equal(existsSync(join(attackDir, 'written-by-attack.txt')), false);
    assert.equal(existsSync(join(attackDir, 'injected-marker')), false);
    const refused = violations(service.output().stderr);
    assert.ok(
      refused.some((v) => v.startsWith('GET /download › app › fs.read › /etc/passwd')),
      refused.join('\n'),
    );
    assert.ok(
      refused.some((v) => v.startsWith('POST /admin/write › app › fs.write')),
      refused.join('\n'),
    );
    assert.ok(
      refused.some((v) =>
        v.startsWith('GET /ping › app › child.spawn › getent hosts 127.0.0.1; touch'),
      ),
      refused.join('\n'),
    );
    assert.ok(
      refused.some((v) => /^GET \/preview › \S+ › net\.connect › 127\.0\.0\.9:/.test(v)),
      refused.join('\n'),
    );
  });
}

test("Node's flags alone refuse what Node can express: reading /etc/passwd and writing outside the data dir", async () => {
  const service = await startUnder('enforce', '--layer=node');
  const attackDir = mkdtempSync(join(tmpdir(), 'leash-attack-'));
  try {
    assert.deepEqual((await heldOutWorkload(service.base)).failures, []);
    const byName = Object.fromEntries(
      attacks(service.base, { tmpDir: attackDir, metadataBase: service.metadataBase }).map((a) => [
        a.name,
        a,
      ]),
    );
    const traversal = await byName['path-traversal']!.run();
    assert.equal(traversal.succeeded, false, traversal.evidence);
    assert.match(traversal.evidence, /ERR_ACCESS_DENIED|permission|Access to this API/i);
    const write = await byName['file-write']!.run();
    assert.equal(write.succeeded, false, write.evidence);
  } finally {
    await service.stop();
  }
  assert.deepEqual(violations(service.output().stderr), [], 'the in-process layer was off');
});

test('report mode lets every attack through and logs each distinct violation once', async () => {
  const service = await startUnder('report');
  const attackDir = mkdtempSync(join(tmpdir(), 'leash-attack-'));
  try {
    const list = attacks(service.base, { tmpDir: attackDir, metadataBase: service.metadataBase });
    for (const round of [1, 2]) {
      for (const attack of list) {
        const result = await attack.run();
        assert.equal(result.succeeded, true, `round ${round}: ${attack.name}: ${result.evidence}`);
      }
    }
  } finally {
    await service.stop();
  }
  const logged = violations(service.output().stderr);
  assert.equal(
    new Set(logged).size,
    logged.length,
    `a violation was logged twice:\n${logged.join('\n')}`,
  );
  for (const prefix of [
    'GET /download › app › fs.read › /etc/passwd',
    'POST /admin/write › app › fs.write',
    'GET /ping › app › child.spawn',
  ]) {
    assert.equal(logged.filter((v) => v.startsWith(prefix)).length, 1, prefix);
  }
});
