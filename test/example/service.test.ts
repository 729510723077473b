// The bundled example service, without leash: it starts, both workloads run clean, each of the
// four deliberate runtime vulnerabilities really is exploitable and /hello reflects a script
// unescaped (which makes it a valid target for leash's end-to-end tests), and stop() leaves no
// process behind.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Client } from '../../examples/service/client.ts';
import { startExample } from '../../examples/service/start.ts';
import { passwordOf } from '../../examples/service/users.ts';
import { attacks, heldOutWorkload, learningWorkload } from '../../examples/service/workload.ts';

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function loggedIn(base: string, user: string): Promise<Client> {
  const client = new Client(base);
  const reply = await client.send('POST', '/login', { json: { user, password: passwordOf(user) } });
  assert.equal(reply.status, 200, reply.body);
  return client;
}

test('the example service runs its workloads, falls to its attacks, and stops cleanly', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'leash-example-data-'));
  const tmpDir = mkdtempSync(join(tmpdir(), 'leash-example-attack-'));
  const example = await startExample({ dataDir });
  const { server, partner, metadata, cdn } = example.processes;
  try {
    assert.match(example.base, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(example.partnerBase, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(example.metadataBase, /^http:\/\/127\.0\.0\.9:\d+$/);
    assert.match(example.cdnBase, /^http:\/\/127\.0\.0\.2:\d+$/);

    await t.test('the learning workload succeeds', async () => {
      const summary = await learningWorkload(example.base);
      assert.deepEqual(summary.failures, []);
      assert.ok(summary.requests > 100, `only ${summary.requests} requests`);
      assert.ok(existsSync(join(dataDir, 'uploads', 'carol', 'oven.png')));
      assert.ok(existsSync(join(dataDir, 'motd.txt')));
      assert.ok(existsSync(join(dataDir, 'notes.db')));
    });

    await t.test('the held-out workload succeeds', async () => {
      const summary = await heldOutWorkload(example.base);
      assert.deepEqual(summary.failures, []);
      assert.ok(existsSync(join(dataDir, 'uploads', 'erin', 'beds.png')));
    });

    await t.test('the legitimate routes check owners, names and escape HTML', async () => {
      const alice = await loggedIn(example.base, 'alice');
      const bob = await loggedIn(example.base, 'bob');
      const note = await alice.json<{ id: number }>('POST', '/notes', {
        json: { title: '<b>bold</b>', body: 'x' },
      });
      assert.ok(note);
      assert.equal((await bob.send('GET', `/notes/${note.id}`)).status, 404);
      assert.equal(
        (await bob.send('PUT', `/notes/${note.id}`, { json: { title: 't', body: 'b' } })).status,
        404,
      );
      const view = await alice.send('GET', `/notes/${note.id}/view`);
      assert.match(view.body, /&lt;b&gt;bold&lt;\/b&gt;/);
      assert.doesNotMatch(view.body, /<b>bold/);
      assert.equal((await bob.send('GET', '/files/..%2Fdave%2Fgraph.png')).status, 400);
      assert.equal((await bob.send('POST', '/upload?name=..%2Fx.txt', { body: 'x' })).status, 400);
      assert.equal((await new Client(example.base).send('GET', '/notes')).status, 401);
      const wrong = await new Client(example.base).send('POST', '/login', {
        json: { user: 'alice', password: 'nope' },
      });
      assert.equal(wrong.status, 401);
    });

    await t.test(
      'the gallery loads from the CDN, and /hello reflects its input unescaped',
      async () => {
        const client = new Client(example.base);
        const gallery = await client.send('GET', '/gallery');
        assert.ok(gallery.body.includes(`src="${example.cdnBase}/js/app.js"`), gallery.body);
        const css = await fetch(`${example.cdnBase}/css/site.css`);
        assert.equal(css.headers.get('access-control-allow-origin'), '*');
        assert.match(await css.text(), /url\(\/font\/site\.woff2\)/);
        assert.equal((await fetch(`${example.cdnBase}/secret`)).status, 404);
        const payload = '<script>window.pwned = true</script>';
        const hello = await client.send('GET', `/hello?name=${encodeURIComponent(payload)}`);
        assert.ok(hello.body.includes(`Hello ${payload}`), hello.body);
      },
    );

    await t.test('each attack succeeds against the unprotected service', async () => {
      const list = attacks(example.base, { tmpDir, metadataBase: example.metadataBase });
      assert.deepEqual(
        list.map((a) => a.name),
        ['path-traversal', 'file-write', 'command-injection', 'ssrf'],
      );
      for (const attack of list) {
        const outcome = await attack.run();
        assert.equal(outcome.succeeded, true, `${attack.name}: ${outcome.evidence}`);
      }
      assert.ok(readFileSync(join(tmpDir, 'written-by-attack.txt'), 'utf8').length > 0);
      assert.ok(existsSync(join(tmpDir, 'injected-marker')));
    });
  } finally {
    await example.stop();
  }

  for (const child of [server, partner, metadata, cdn]) {
    assert.equal(alive(child.pid), false, `pid ${child.pid} still running`);
    assert.equal(alive(child.pid === undefined ? undefined : -child.pid), false, 'group left');
  }
});

test('startExample passes wrap, nodeOptions and env to the server and reports a failed start', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'leash-example-data-'));
  let wrapped: string[] = [];
  const example = await startExample({
    dataDir,
    nodeOptions: ['--no-warnings'],
    env: { SESSION_SECRET: 'test-secret' },
    wrap: (command) => {
      wrapped = command;
      return command;
    },
  });
  try {
    assert.equal(wrapped[0], process.execPath);
    assert.equal(wrapped[1], '--no-warnings');
    assert.match(wrapped[2] ?? '', /examples\/service\/server\.ts$/);
    assert.equal((await fetch(`${example.base}/`)).status, 200);
  } finally {
    await example.stop();
  }

  // A server that exits before listening: startExample rejects and leaves nothing running.
  let failure: unknown;
  try {
    const started = await startExample({
      dataDir,
      wrap: () => [process.execPath, '-e', 'process.exit(3)'],
    });
    await started.stop();
  } catch (error) {
    failure = error;
  }
  assert.match(String(failure), /exited \(3\) before listening/);
});
