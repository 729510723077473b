// The runtime module end to end on a plain node:http service: learn, then enforce with each layer,
// report mode, and the CI drift gate. Every request goes to loopback servers of the test's own.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readPolicyJson } from '../support/policy-json.ts';
import { run } from '../support/processes.ts';
import { BIN, get, startUnder } from './helpers.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/plain-service.mjs', import.meta.url));
// The service lives in its own directory, as a real one does: loading it is then one folded rule.
let SERVICE: string;

let dir: string;
let dataDir: string;
let outside: string;
let partner: http.Server;
let partnerUrl: string;
let otherUrl: string;
let other: http.Server;

const env = () => ({ DATA_DIR: dataDir });

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'leash-runtime-'));
  dataDir = join(dir, 'data');
  outside = mkdtempSync(join(tmpdir(), 'leash-outside-'));
  mkdirSync(dataDir);
  for (const name of ['1', '2', '3', '4'])
    writeFileSync(join(dataDir, `${name}.txt`), `note ${name}`);
  writeFileSync(join(outside, 'secret.txt'), 'secret');
  SERVICE = join(dir, 'service.mjs');
  copyFileSync(FIXTURE, SERVICE);
  writeFileSync(
    join(dir, 'leash.config.json'),
    JSON.stringify({ dataDirs: ['./data'], flushIntervalMs: 100 }),
  );
  partner = http.createServer((_req, res) => res.end('partner')).listen(0, '127.0.0.1');
  other = http.createServer((_req, res) => res.end('internal secret')).listen(0, '127.0.0.9');
  await Promise.all([
    new Promise((r) => partner.once('listening', r)),
    new Promise((r) => other.once('listening', r)),
  ]);
  partnerUrl = `http://127.0.0.1:${(partner.address() as { port: number }).port}/`;
  otherUrl = `http://127.0.0.9:${(other.address() as { port: number }).port}/`;

  // Learn from a small legitimate workload.
  const service = await startUnder(['learn', '--', process.execPath, SERVICE], {
    cwd: dir,
    env: env(),
  });
  for (const id of ['1', '2', '3'])
    assert.equal((await get(service.base, `/notes/${id}`)).status, 200);
  assert.equal((await get(service.base, '/echo?word=hello')).body.trim(), 'hello');
  assert.equal(
    (await get(service.base, `/fetch?url=${encodeURIComponent(partnerUrl)}`)).body,
    'partner',
  );
  // A second learning run rewrites the existing policy, under Node's permission-audit model.
  const again = await startUnder(['learn', '--', process.execPath, SERVICE], {
    cwd: dir,
    env: env(),
  });
  assert.equal((await get(again.base, '/notes/1')).status, 200);
  await again.stop();
  const { signal } = await service.stop();
  assert.equal(signal, null, 'leash itself exits with a code when the service dies by a signal');
  for (const run of [service, again]) assert.doesNotMatch(run.stderr(), /could not save/);
});

after(() => {
  partner.close();
  other.close();
});

test('learning writes a small, simplified policy attributed to routes and packages', () => {
  const policy = readPolicyJson(join(dir, 'leash.policy.json'), { app: dir, env: env() });
  const routes = policy.runtime;
  assert.deepEqual(routes['GET /notes/:id'], { app: { 'fs.read': [`${dataDir}/*.txt`] } });
  assert.deepEqual(routes['GET /echo'], { app: { 'child.spawn': ['echo hello'] } });
  assert.deepEqual(
    routes['GET /fetch'].undici ?? routes['GET /fetch'].node ?? routes['GET /fetch'].app,
    {
      'net.connect': [`127.0.0.1:${new URL(partnerUrl).port}`],
    },
  );
  assert.deepEqual(routes['@startup'].app, { 'net.listen': ['127.0.0.1:0'] });
  assert.ok(
    routes['@loader'].node['fs.read'].includes(`${dir}/**`),
    'loading the service folds into one rule',
  );
});

for (const layer of ['both', 'process'] as const) {
  test(`enforce (${layer}): learned uses pass, and traversal, writes, commands and SSRF are refused before their effect`, async () => {
    const service = await startUnder(
      ['enforce', `--layer=${layer}`, '--', process.execPath, SERVICE],
      { cwd: dir, env: env() },
    );
    try {
      assert.equal(
        (await get(service.base, '/notes/4')).body,
        'note 4',
        'a new note in the learned directory',
      );
      assert.equal((await get(service.base, '/echo?word=hello')).body.trim(), 'hello');
      assert.equal(
        (await get(service.base, `/fetch?url=${encodeURIComponent(partnerUrl)}`)).body,
        'partner',
      );

      const traversal = await get(
        service.base,
        `/read?path=${encodeURIComponent(join(outside, 'secret.txt'))}`,
      );
      assert.equal(traversal.status, 500);
      assert.match(traversal.body, /ERR_LEASH_DENIED/);
      const target = join(outside, 'written.txt');
      assert.match(
        (await get(service.base, `/write?path=${encodeURIComponent(target)}`)).body,
        /ERR_LEASH_DENIED/,
      );
      assert.throws(() => readFileSync(target), { code: 'ENOENT' });
      assert.match((await get(service.base, '/echo?word=other')).body, /ERR_LEASH_DENIED/);
      const ssrf = await get(service.base, `/fetch?url=${encodeURIComponent(otherUrl)}`);
      assert.doesNotMatch(ssrf.body, /internal secret/);
      assert.match(ssrf.body, /ERR_LEASH_DENIED/);
    } finally {
      await service.stop();
    }
    const logged = service
      .stderr()
      .split('\n')
      .filter((line) => line.includes('"event":"violation"'))
      .map((line) => JSON.parse(line).facts.slice(2).join(' '));
    assert.ok(logged.includes(`fs.read ${join(outside, 'secret.txt')}`), logged.join('\n'));
    assert.ok(logged.includes('child.spawn echo other'), logged.join('\n'));
  });
}

test("enforce with Node's flags alone refuses what Node can express: reads and writes outside the policy", async () => {
  const service = await startUnder(['enforce', '--layer=node', '--', process.execPath, SERVICE], {
    cwd: dir,
    env: env(),
  });
  try {
    assert.equal((await get(service.base, '/notes/4')).body, 'note 4');
    assert.match((await get(service.base, '/read?path=/etc/passwd')).body, /ERR_ACCESS_DENIED/);
    const target = join(outside, 'written-by-node.txt');
    assert.match(
      (await get(service.base, `/write?path=${encodeURIComponent(target)}`)).body,
      /ERR_ACCESS_DENIED/,
    );
    assert.throws(() => readFileSync(target), { code: 'ENOENT' });
    // A per-route command template is beyond Node's flags: the command runs.
    assert.equal((await get(service.base, '/echo?word=other')).body.trim(), 'other');
  } finally {
    await service.stop();
  }
});

test('report mode lets everything through and logs each distinct violation exactly once', async () => {
  const service = await startUnder(['report', '--', process.execPath, SERVICE], {
    cwd: dir,
    env: env(),
  });
  const secret = join(outside, 'secret.txt');
  try {
    for (let i = 0; i < 3; i++) {
      assert.equal(
        (await get(service.base, `/read?path=${encodeURIComponent(secret)}`)).body,
        'secret',
      );
      assert.equal((await get(service.base, '/echo?word=again')).body.trim(), 'again');
    }
  } finally {
    await service.stop();
  }
  const lines = service
    .stderr()
    .split('\n')
    .filter((line) => line.includes('"event":"violation"'))
    .map((line) => JSON.parse(line));
  const facts = lines.map((l) => l.facts.join(' '));
  assert.deepEqual(facts.sort(), [
    'GET /echo app child.spawn echo again',
    `GET /read app fs.read ${secret}`,
  ]);
  assert.ok(lines.every((l) => l.mode === 'report'));
  const recorded = JSON.parse(readFileSync(join(dir, 'leash.violations.json'), 'utf8')).violations;
  const read = recorded.find(
    (v: { facts: string[]; mode: string }) => v.facts[3] === secret && v.mode === 'report',
  );
  assert.equal(read.count, 3);
});

let ciScripts = 0;
function ci(testScript: string) {
  const script = join(dir, `ci-${++ciScripts}.mjs`);
  writeFileSync(script, testScript);
  return run(process.execPath, [BIN, 'ci', '--', process.execPath, script], {
    cwd: dir,
    env: { ...process.env, NO_COLOR: '1', LEASH_MODE: '', LEASH_POLICY: '', LEASH_CONFIG: '' },
  });
}

test('leash ci exits 1 listing a newly needed privilege, and 0 when nothing new is needed', async () => {
  const fresh = join(outside, 'secret.txt');
  const newRead = await ci(`import fs from 'node:fs'; fs.readFileSync(${JSON.stringify(fresh)});`);
  assert.equal(newRead.status, 1, newRead.stderr);
  assert.match(
    newRead.stdout,
    /the tests needed 1 privilege that leash\.policy\.json does not grant/,
  );
  assert.match(
    newRead.stdout,
    new RegExp(`\\+ runtime: @startup › app › fs\\.read › ${fresh.replaceAll('/', '\\/')}`),
  );

  const known = await ci(
    `import fs from 'node:fs'; fs.readFileSync(${JSON.stringify(join(dataDir, '1.txt'))});`,
  );
  assert.equal(known.status, 1, 'a read at start-up was never learned at start-up');
  const failing = await ci('process.exit(3)');
  assert.equal(failing.status, 3);
  assert.match(failing.stderr, /the test command failed \(exit 3\)/);
  const nothing = await ci('console.log("no privileges")');
  assert.equal(nothing.status, 0, nothing.stdout + nothing.stderr);
  assert.match(nothing.stdout, /needed nothing that leash\.policy\.json does not grant/);
});
