// The adversarial suite: attacker code runs in a route the policy grants nothing, under
// `leash enforce` with its default layers, and every test asserts that the effect did not happen
// (the bytes the attacker got, the file on disk, the test's own listener, datagram socket and
// process). Most techniques here get past leash's in-process checks (the off switch importable by
// file path, the ChildProcess class, process.binding, dgram): what stops them is the kernel layer.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Running } from '../runtime/helpers.ts';
import {
  type Answer,
  attack,
  enforce,
  get,
  INTERNAL_URL,
  learnWorkspace,
  NO_KERNEL,
  type Workspace,
} from './helpers.ts';
import { answers, sleeper, watchStream, watchUdp } from './observers.ts';

const LEASH_SOURCE = fileURLToPath(new URL('../../src/', import.meta.url));
const js = JSON.stringify;
/** A plain object shaped like a file: URL, which Node's fs accepts as a path. */
const urlLike = (path: string) =>
  `{ href: ${js(`file://${path}`)}, protocol: 'file:', pathname: ${js(path)}, hostname: '', origin: 'null' }`;
/** Runs `body` with leash's checks switched off through the importable helper. */
const unchecked = (body: string) =>
  `const { internal } = await import(${js(INTERNAL_URL)}); return internal(() => { ${body} });`;

for (const layer of [undefined, 'kernel'] as const) {
  const alone = layer === 'kernel';
  const name = alone ? 'under the kernel layer alone' : 'under leash enforce (default layers)';
  describe(name, { skip: NO_KERNEL }, () => {
    let space: Workspace;
    let service: Running;
    /** The error code the kernel gives, asserted where no other layer can have refused first. */
    const refusedBy = (answer: Answer, code: string) => {
      if (alone) assert.equal(answer.code ?? answer.value, code, JSON.stringify(answer));
    };

    before(async () => {
      space = await learnWorkspace();
      service = await enforce(space, layer === undefined ? {} : { layer });
    });
    after(async () => {
      await service?.stop();
      if (space !== undefined) rmSync(space.work, { recursive: true, force: true });
    });

    test('the learned route still works, and enforce names the kernel among its layers', async () => {
      assert.deepEqual(await get(service.base, '/public'), { ok: true, value: 'public words' });
      assert.match(
        service.stderr(),
        alone
          ? /leash: enforce layers: kernel\n/
          : /leash: enforce layers: process, node, kernel\n/,
      );
    });

    describe('read a file outside every grant', () => {
      test('with leash switched off by its importable internal()', async () => {
        const answer = await attack(
          service.base,
          unchecked(`return require('node:fs').readFileSync(${js(space.secret)}, 'utf8');`),
        );
        assert.ok(!JSON.stringify(answer).includes(space.secretText), JSON.stringify(answer));
        refusedBy(answer, 'EACCES');
      });

      test('through a URL-like plain object as the path', async () => {
        const answer = await attack(
          service.base,
          `return require('node:fs').readFileSync(${urlLike(space.secret)}, 'utf8');`,
        );
        assert.ok(!JSON.stringify(answer).includes(space.secretText), JSON.stringify(answer));
        refusedBy(answer, 'EACCES');
      });

      test('through a Uint8Array path', async () => {
        const answer = await attack(
          service.base,
          `return require('node:fs').readFileSync(new TextEncoder().encode(${js(space.secret)}), 'utf8');`,
        );
        assert.ok(!JSON.stringify(answer).includes(space.secretText), JSON.stringify(answer));
      });

      test('through an open descriptor and fs.readSync', async () => {
        const answer = await attack(
          service.base,
          unchecked(
            `const fs = require('node:fs'); const fd = fs.openSync(${js(space.secret)}, 'r'); const b = Buffer.alloc(100); return b.subarray(0, fs.readSync(fd, b)).toString();`,
          ),
        );
        assert.ok(!JSON.stringify(answer).includes(space.secretText), JSON.stringify(answer));
      });
    });

    describe('write a file outside every grant', () => {
      test('with leash switched off', async () => {
        const target = join(space.work, 'written-by-attacker.txt');
        const answer = await attack(
          service.base,
          unchecked(`require('node:fs').writeFileSync(${js(target)}, 'pwned'); return 'written';`),
        );
        refusedBy(answer, 'EACCES');
        assert.ok(!existsSync(target), 'the file was created');
      });

      test('through a URL-like plain object as the path', async () => {
        const target = join(space.work, 'written-through-url.txt');
        const answer = await attack(
          service.base,
          `require('node:fs').writeFileSync(${urlLike(target)}, 'pwned'); return 'written';`,
        );
        refusedBy(answer, 'EACCES');
        assert.ok(!existsSync(target), 'the file was created');
      });

      test('into the data directory the policy only lets it read', async () => {
        const target = join(space.dataDir, 'public.txt');
        await attack(
          service.base,
          `require('node:fs').writeFileSync(${urlLike(target)}, 'pwned'); return 'written';`,
        );
        assert.equal(readFileSync(target, 'utf8'), 'public words');
      });
    });

    describe('execute a binary no rule names', () => {
      const marker = () => join(space.work, `ran-${Math.random().toString(36).slice(2)}`);

      test('new ChildProcess().spawn (below the wrapped child_process functions)', async () => {
        const file = marker();
        const answer = await attack(
          service.base,
          `const { ChildProcess } = require('node:child_process');
         const child = new ChildProcess();
           child.on('error', () => {});
         const status = child.spawn({ file: '/bin/sh', args: ['sh', '-c', ${js(`echo ran > ${file}`)}],
           stdio: ['ignore', 'ignore', 'ignore'], envPairs: [] });
         if (status !== 0) return 'spawn failed: ' + status;
         await new Promise((resolve) => child.on('exit', resolve));
         return 'ran';`,
        );
        assert.ok(!existsSync(file), `the marker process ran: ${JSON.stringify(answer)}`);
      });

      test("process.binding('spawn_sync')", async () => {
        const file = marker();
        const answer = await attack(
          service.base,
          `const result = process.binding('spawn_sync').spawn({ file: '/bin/sh',
           args: ['sh', '-c', ${js(`echo ran > ${file}`)}], envPairs: [],
           stdio: [{ type: 'pipe', readable: true }, { type: 'pipe', writable: true }, { type: 'pipe', writable: true }] });
         return { status: result.status, error: result.error };`,
        );
        assert.ok(!existsSync(file), `the marker process ran: ${JSON.stringify(answer)}`);
      });

      test('process.execve', async () => {
        const file = marker();
        const answer = await attack(
          service.base,
          `process.execve('/bin/sh', ['sh', '-c', ${js(`echo ran > ${file}`)}]); return 'replaced';`,
        );
        assert.ok(!existsSync(file), `the marker process ran: ${JSON.stringify(answer)}`);
        assert.deepEqual(await get(service.base, '/public'), { ok: true, value: 'public words' });
      });

      test('child_process with leash switched off', async () => {
        const file = marker();
        await attack(
          service.base,
          unchecked(
            `require('node:child_process').execFileSync('/bin/sh', ['-c', ${js(`echo ran > ${file}`)}]); return 'ran';`,
          ),
        );
        assert.ok(!existsSync(file), 'the marker process ran');
      });
    });

    describe('connect to or listen on a port no rule names', () => {
      test('TCP connect with leash switched off', async () => {
        const watch = await watchStream();
        try {
          const answer = await attack(
            service.base,
            unchecked(`const net = require('node:net');
            return new Promise((resolve) => {
              const s = net.connect(${watch.port}, '127.0.0.1', () => { s.destroy(); resolve('connected'); });
              s.on('error', (e) => resolve(e.code));
            });`),
          );
          assert.equal(await watch.accepted(), 0, JSON.stringify(answer));
        } finally {
          await watch.close();
        }
      });

      test('fetch to a loopback service with leash switched off', async () => {
        const watch = await watchStream({ host: '127.0.0.9' });
        try {
          await attack(
            service.base,
            unchecked(
              `return fetch('http://127.0.0.9:${watch.port}/').then(() => 'fetched', (e) => String(e.cause?.code));`,
            ),
          );
          assert.equal(await watch.accepted(), 0);
        } finally {
          await watch.close();
        }
      });

      test('listen on a chosen port, also as { path: null, port }', async () => {
        for (const options of [
          '{ port: PORT, host: "127.0.0.1" }',
          '{ path: null, port: PORT, host: "127.0.0.1" }',
        ]) {
          const port = await freePort();
          const answer = await attack(
            service.base,
            unchecked(`const server = require('node:net').createServer((s) => s.end('attacker'));
            return new Promise((resolve) => {
              server.on('error', (e) => resolve(e.code));
              server.listen(${options.replace('PORT', String(port))}, () => resolve('listening'));
            });`),
          );
          const reached = await new Promise<boolean>((resolve) => {
            const socket = net.connect(port, '127.0.0.1', () => {
              socket.destroy();
              resolve(true);
            });
            socket.on('error', () => resolve(false));
          });
          assert.equal(reached, false, `${options}: ${JSON.stringify(answer)}`);
        }
      });

      test('a unix socket of the machine', async () => {
        const path = join(space.work, 'test.sock');
        const watch = await watchStream({ path });
        try {
          const answer = await attack(
            service.base,
            unchecked(`return new Promise((resolve) => {
            const s = require('node:net').connect(${js(path)}, () => { s.destroy(); resolve('connected'); });
            s.on('error', (e) => resolve(e.code));
          });`),
          );
          assert.equal(await watch.accepted(), 0, JSON.stringify(answer));
        } finally {
          await watch.close();
        }
      });
    });

    describe('send UDP', () => {
      test('a dgram datagram', async () => {
        const watch = await watchUdp();
        try {
          const answer = await attack(
            service.base,
            `const socket = require('node:dgram').createSocket('udp4');
           return new Promise((resolve) => {
             socket.on('error', (e) => resolve(e.code));
             socket.send('exfiltrated', ${watch.port}, '127.0.0.1', (e) => { socket.close(); resolve(e ? e.code : 'sent'); });
           });`,
          );
          assert.deepEqual(await watch.received(), [], JSON.stringify(answer));
        } finally {
          watch.close();
        }
      });

      test('DNS exfiltration through dns.Resolver', async () => {
        const watch = await watchUdp();
        try {
          const answer = await attack(
            service.base,
            `const { Resolver } = require('node:dns').promises;
           const resolver = new Resolver({ timeout: 200, tries: 1 });
           resolver.setServers(['127.0.0.1:${watch.port}']);
           return resolver.resolve4('secret-data.example').then(() => 'resolved', (e) => e.code);`,
          );
          assert.deepEqual(await watch.received(), [], JSON.stringify(answer));
        } finally {
          watch.close();
        }
      });
    });

    describe('signal a foreign process', () => {
      test('process.kill of a process the service did not start', async () => {
        const victim = await sleeper();
        try {
          const answer = await attack(
            service.base,
            `try { process.kill(${victim.pid}, 'SIGKILL'); return 'killed'; } catch (e) { return e.code; }`,
          );
          assert.equal(await answers(victim), true, JSON.stringify(answer));
          refusedBy(answer, 'EPERM');
        } finally {
          victim.kill('SIGKILL');
        }
      });

      test('the supervisor (leash) itself', async () => {
        const answer = await attack(
          service.base,
          `try { process.kill(process.ppid, 'SIGKILL'); return 'killed'; } catch (e) { return e.code; }`,
        );
        refusedBy(answer, 'EPERM');
        assert.equal(service.child.exitCode, null);
      });
    });

    describe('widen the policy for the next start', () => {
      test('rewrite the policy, add a file to leash, replace the policy by rename', async () => {
        const before = readFileSync(space.policyFile);
        const planted = join(LEASH_SOURCE, 'attribution', 'planted-by-attacker.ts');
        const temporary = join(space.work, 'widened.json');
        const spool = join(space.work, 'leash.violations.spool');
        try {
          await attack(
            service.base,
            unchecked(`const fs = require('node:fs');
            const out = [];
            const tryIt = (f) => { try { f(); out.push('ok'); } catch (e) { out.push(e.code); } };
            tryIt(() => fs.writeFileSync(${js(space.policyFile)}, '{"version":1}'));
            tryIt(() => fs.writeFileSync(${js(planted)}, 'export {}'));
            tryIt(() => { fs.writeFileSync(${js(temporary)}, '{}'); fs.renameSync(${js(temporary)}, ${js(space.policyFile)}); });
            tryIt(() => fs.unlinkSync(${js(space.policyFile)}));
            tryIt(() => fs.appendFileSync(${js(spool)}, '{"version":1,"violations":[]}\\n'));
            return out;`),
          );
          assert.deepEqual(readFileSync(space.policyFile), before);
          assert.ok(!existsSync(planted), 'a file was added to leash');
          assert.ok(
            !existsSync(spool) || !readFileSync(spool, 'utf8').includes('"violations":[]'),
            'the service wrote the violations spool',
          );
        } finally {
          rmSync(planted, { force: true });
        }
      });

      test('after a restart the policy is the same and the attack is still refused', async () => {
        const before = readFileSync(space.policyFile);
        await service.stop();
        service = await enforce(space);
        assert.deepEqual(readFileSync(space.policyFile), before);
        const answer = await attack(
          service.base,
          unchecked(`return require('node:fs').readFileSync(${js(space.secret)}, 'utf8');`),
        );
        assert.ok(!JSON.stringify(answer).includes(space.secretText));
      });
    });

    test('violations reach leash.violations.json through the supervisor', {
      skip: alone,
    }, async () => {
      await attack(
        service.base,
        `return require('node:fs').readFileSync(${js(space.secret)}, 'utf8');`,
      );
      await service.stop();
      const record = JSON.parse(
        readFileSync(join(space.work, 'leash.violations.json'), 'utf8'),
      ) as {
        violations: Array<{ facts: string[]; mode: string }>;
      };
      assert.ok(
        record.violations.some(
          (v) => v.mode === 'enforce' && v.facts.join(' ').includes(`fs.read ${space.secret}`),
        ),
        JSON.stringify(record),
      );
      service = await enforce(space);
    });
  });
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
