// Holes in leash's in-process layer, closed, each with the technique that went through it; the
// service runs under `leash enforce --layer=process` so that nothing else can be what refuses.
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Running } from '../runtime/helpers.ts';
import { attack, enforce, learnWorkspace, type Workspace } from './helpers.ts';
import { answers, sleeper, watchUdp } from './observers.ts';

const js = JSON.stringify;
let space: Workspace;
let service: Running;

before(async () => {
  space = await learnWorkspace();
  service = await enforce(space, { layer: 'process' });
});
after(async () => {
  await service?.stop();
  if (space !== undefined) rmSync(space.work, { recursive: true, force: true });
});

test("leash's internal(), imported by a compromised package, switches no check off", async () => {
  const answer = await attack(
    service.base,
    `return globalThis.compromised.internal(() => require('node:fs').readFileSync(${js(space.secret)}, 'utf8'));`,
  );
  assert.ok(!JSON.stringify(answer).includes(space.secretText), JSON.stringify(answer));
  assert.equal(answer.code, 'ERR_LEASH_DENIED');
});

test('runInRequest, imported the same way, cannot pick a scope with more grants', async () => {
  const answer = await attack(
    service.base,
    `return globalThis.compromised.runInRequest({ scope: 'GET /public', request: null }, () =>
       require('node:fs').readFileSync(${js(join(space.dataDir, 'public.txt'))}, 'utf8'));`,
  );
  assert.equal(answer.code, 'ERR_LEASH_DENIED', JSON.stringify(answer));
  assert.match(answer.message ?? '', /POST \/attack/);
});

test('the scope switches leash files take when they load are inert when a package takes them', async () => {
  for (const switches of [
    'globalThis.compromised.switches',
    'globalThis.compromised.scopeSwitches()',
  ]) {
    const answer = await attack(
      service.base,
      `return ${switches}.runInRequest({ scope: 'GET /public', request: null }, () =>
         require('node:fs').readFileSync(${js(join(space.dataDir, 'public.txt'))}, 'utf8'));`,
    );
    assert.equal(answer.code, 'ERR_LEASH_DENIED', JSON.stringify(answer));
    assert.match(answer.message ?? '', /POST \/attack/);
  }
});

const marker = () => join(space.work, `ran-${Math.random().toString(36).slice(2)}`);

test('new ChildProcess().spawn is checked like the child_process functions', async () => {
  const file = marker();
  const answer = await attack(
    service.base,
    `const { ChildProcess } = require('node:child_process');
     const child = new ChildProcess();
     child.on('error', () => {});
     child.spawn({ file: '/bin/sh', args: ['sh', '-c', ${js(`echo ran > ${file}`)}],
       stdio: ['ignore', 'ignore', 'ignore'], envPairs: [] });
     await new Promise((resolve) => child.on('exit', resolve));
     return 'ran';`,
  );
  assert.equal(answer.code, 'ERR_LEASH_DENIED', JSON.stringify(answer));
  assert.equal(existsSync(file), false, 'the marker process ran');
});

test('process.execve is checked, and the service keeps running', async () => {
  const file = marker();
  const answer = await attack(
    service.base,
    `process.execve('/bin/sh', ['sh', '-c', ${js(`echo ran > ${file}`)}]); return 'replaced';`,
  );
  assert.equal(answer.code, 'ERR_LEASH_DENIED', JSON.stringify(answer));
  assert.equal(existsSync(file), false, 'the marker process ran');
});

test('an argument that answers one word to the check and another to the spawn runs neither', async () => {
  const file = marker();
  const answer = await attack(
    service.base,
    `let calls = 0;
     const word = { toString: () => (calls++ === 0 ? 'harmless' : ${js(`echo ran > ${file}`)}) };
     const { ChildProcess } = require('node:child_process');
     const child = new ChildProcess();
     child.on('error', () => {});
     child.spawn({ file: '/bin/sh', args: ['sh', '-c', word], stdio: ['ignore', 'ignore', 'ignore'], envPairs: [] });
     await new Promise((resolve) => child.on('exit', resolve));
     return 'ran';`,
  );
  assert.equal(existsSync(file), false, `the marker process ran: ${JSON.stringify(answer)}`);
});

test('dns.Resolver and dns.resolve* are checked: a query to a server of the attacker never leaves', async () => {
  const watch = await watchUdp();
  try {
    const answers = [];
    for (const code of [
      `const { Resolver } = require('node:dns').promises;
       const resolver = new Resolver({ timeout: 200, tries: 1 });
       resolver.setServers(['127.0.0.1:${watch.port}']);
       return resolver.resolve4('secret-data.example').then(() => 'resolved', (e) => e.code);`,
      `const { Resolver } = require('node:dns');
       const resolver = new Resolver({ timeout: 200, tries: 1 });
       resolver.setServers(['127.0.0.1:${watch.port}']);
       return new Promise((resolve) => resolver.resolveTxt('more-secret.example', (e) => resolve(e ? e.code : 'resolved')));`,
    ])
      answers.push(await attack(service.base, code));
    assert.deepEqual(await watch.received(), [], JSON.stringify(answers));
    for (const answer of answers) assert.equal(answer.value, 'ERR_LEASH_DENIED');
  } finally {
    watch.close();
  }
});

test('process.kill of a process the service did not start is refused', async () => {
  const victim = await sleeper();
  try {
    const answer = await attack(
      service.base,
      `try { process.kill(${victim.pid}, 'SIGKILL'); return 'killed'; } catch (e) { return e.code; }`,
    );
    assert.equal(await answers(victim), true, JSON.stringify(answer));
    assert.equal(answer.value, 'ERR_LEASH_DENIED');
  } finally {
    victim.kill('SIGKILL');
  }
});
