// json-server 0.17.4 with json-server-auth 2.1.0 (Express 4, lowdb on a JSON file, bcrypt
// passwords, JWT logins), installed from npm and run unmodified under leash: learn from one
// workload, restart under `leash enforce` (default layers), replay a different held-out workload
// that starts with users of the learning run logging in again, and expect 0 refusals; then a
// compromised dependency loaded with the service tries to read a file outside its data, write
// one, and reach a server of the test's own on 127.0.0.9: each refused, with no effect.
import assert from 'node:assert/strict';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { freePort } from '../../examples/service/start.ts';
import { killGroup, spawnGroup } from '../support/processes.ts';
import {
  type Answer,
  installCompromised,
  type Results,
  sendOrders,
  startService,
  startTarget,
  type Target,
  violations,
  Workload,
} from './harness.ts';

const require = createRequire(import.meta.url);
const packageDir = (name: string) => dirname(require.resolve(`${name}/package.json`));
const SEED = {
  users: [],
  posts: [{ id: 1, title: 'Welcome', body: 'first post', userId: 0 }],
  comments: [],
  notes: [],
};
// json-server-auth's guards: posts are the owner's to write and anyone's to read, comments any
// logged-in user's to write, notes private to their owner (users are private by default).
const ROUTES = {
  '/posts*': '/644/posts$1',
  '/comments*': '/664/comments$1',
  '/notes*': '/600/notes$1',
};

let work: string;
let app: string;
let policy: string;
let port: number;
let command: string[];
let secret: string;
let target: Target;
const SECRET_TEXT = `secret-${process.pid}`;
const learned = { requests: 0 };

interface User {
  readonly name: string;
  id?: number;
  token?: string;
}
const email = (user: User) => `${user.name}@example.test`;
const password = (user: User) => `${user.name}-correct-horse-${user.name.length}`;
const bearer = (user: User) => ({ authorization: `Bearer ${user.token}` });

async function register(w: Workload, user: User): Promise<void> {
  const answer = await w.call('POST', '/register', {
    json: { email: email(user), password: password(user), firstname: user.name },
    expect: [201],
  });
  user.id = answer.json<{ user: { id: number } }>().user.id;
}

async function login(w: Workload, user: User): Promise<void> {
  const answer = await w.call('POST', '/login', {
    json: { email: email(user), password: password(user) },
    expect: [200],
  });
  const body = answer.json<{ accessToken: string; user: { id: number } }>();
  user.token = body.accessToken;
  user.id = body.user.id;
}

async function post(w: Workload, user: User, title: string): Promise<number> {
  const answer = await w.call('POST', '/posts', {
    json: { title, body: `${title}, by ${user.name}`, userId: user.id },
    headers: bearer(user),
    expect: [201],
  });
  return answer.json<{ id: number }>().id;
}

const id = (answer: Answer) => answer.json<{ id: number }>().id;

/** Registrations, logins, posts, comments, private notes, lists with paging, sorting, search. */
async function learningWorkload(base: string, users: User[]): Promise<Workload> {
  const w = new Workload(base);
  await w.call('GET', '/');
  for (const user of users) {
    await register(w, user);
    await login(w, user);
  }
  const posts: number[] = [];
  for (const user of users)
    for (const title of ['Bread', 'Tomatoes'])
      posts.push(await post(w, user, `${title} ${user.name}`));
  for (const [i, user] of users.entries()) {
    const postId = posts[i * 2]!;
    await w.call('GET', `/posts/${postId}`);
    await w.call('GET', `/posts/${postId}?_embed=comments`);
    await w.call('POST', '/comments', {
      json: { postId, body: `nice, says ${user.name}`, userId: user.id },
      headers: bearer(user),
      expect: [201],
    });
    await w.call('GET', `/comments?postId=${postId}`);
    await w.call('GET', `/posts/${postId}/comments`);
    await w.call('PATCH', `/posts/${postId}`, {
      json: { title: `Bread, baked by ${user.name}` },
      headers: bearer(user),
    });
    const note = await w.call('POST', '/notes', {
      json: { text: `${user.name}'s shopping list`, userId: user.id },
      headers: bearer(user),
      expect: [201],
    });
    await w.call('GET', `/notes/${id(note)}`, { headers: bearer(user) });
    await w.call('PATCH', `/notes/${id(note)}`, { json: { done: false }, headers: bearer(user) });
    await w.call('GET', `/notes?userId=${user.id}`, { headers: bearer(user) });
    await w.call('GET', `/users/${user.id}`, { headers: bearer(user) });
  }
  const [alice] = users;
  await w.call('PUT', `/posts/${posts[1]}`, {
    json: { title: 'Tomatoes, replaced', body: 'new', userId: alice!.id },
    headers: bearer(alice!),
  });
  await w.call('DELETE', `/posts/${posts[1]}`, { headers: bearer(alice!) });
  for (const query of ['', '?_page=1&_limit=2', '?userId=1', '?_sort=id&_order=desc', '?q=Bread'])
    await w.call('GET', `/posts${query}`);
  return w;
}

/**
 * Other users and values: the learning run's users log in again first (nothing registered yet in
 * this run), then new users register; other titles, ids, pages, filters and sort orders.
 */
async function heldOutWorkload(base: string, returning: User[], fresh: User[]): Promise<Workload> {
  const w = new Workload(base);
  for (const user of returning) await login(w, user);
  for (const user of fresh) {
    await register(w, user);
    await login(w, user);
  }
  await w.call('POST', '/login', {
    json: { email: email(returning[0]!), password: 'not-the-password' },
    expect: [400],
  });
  await w.call('POST', '/posts', { json: { title: 'anonymous', userId: 1 }, expect: [401] });
  const everyone = [...returning, ...fresh];
  const posts: number[] = [];
  for (const user of everyone) posts.push(await post(w, user, `Soup of ${user.name}`));
  for (const [i, user] of everyone.entries()) {
    const postId = posts[i]!;
    const other = posts[(i + 1) % posts.length]!;
    await w.call('GET', `/posts/${other}`);
    await w.call('GET', `/posts/${other}?_expand=user`);
    await w.call('POST', '/comments', {
      json: { postId: other, body: `${user.name} tried it`, userId: user.id },
      headers: bearer(user),
      expect: [201],
    });
    await w.call('GET', `/posts/${other}/comments?_sort=id&_order=desc`);
    await w.call('PATCH', `/posts/${postId}`, {
      json: { body: `updated by ${user.name}` },
      headers: bearer(user),
    });
    const note = await w.call('POST', '/notes', {
      json: { text: `${user.name}: call the plumber`, userId: user.id },
      headers: bearer(user),
      expect: [201],
    });
    await w.call('PATCH', `/notes/${id(note)}`, { json: { done: true }, headers: bearer(user) });
    await w.call('GET', `/notes?userId=${user.id}`, { headers: bearer(user) });
    await w.call('GET', `/users/${user.id}`, { headers: bearer(user) });
  }
  for (const query of [
    '?_page=2&_limit=3',
    '?title_like=Soup',
    '?_sort=title&_order=asc',
    '?q=plumber',
    '?_start=1&_end=4',
    `?userId=${fresh[0]!.id}`,
  ])
    await w.call('GET', `/posts${query}`);
  await w.call('GET', '/comments?_page=1&_limit=5');
  await w.call('DELETE', `/posts/${posts[posts.length - 1]}`, { headers: bearer(fresh[1]!) });
  return w;
}

/**
 * Lays the service out as `npm install json-server json-server-auth` does in an app of its own.
 * json-server-auth requires `express` without depending on it, counting on json-server's Express 4
 * being hoisted beside it; in this repository Express 5 is hoisted, so the app's node_modules gets
 * a copy of json-server-auth and links to Express 4 and the other packages, unmodified.
 */
function install(into: string): { app: string; command: string[] } {
  const dir = join(into, 'app');
  const modules = join(dir, 'node_modules');
  mkdirSync(join(dir, 'data'), { recursive: true });
  mkdirSync(modules, { recursive: true });
  const auth = packageDir('json-server-auth');
  for (const part of ['package.json', 'dist'])
    cpSync(join(auth, part), join(modules, 'json-server-auth', part), { recursive: true });
  // Each dependency where Node finds it from json-server-auth's own directory.
  const located = (name: string) =>
    [join(auth, 'node_modules', name), join(dirname(auth), name)].find((at) => existsSync(at))!;
  for (const name of ['json-server', 'bcryptjs', 'jsonwebtoken', 'yargs'])
    symlinkSync(located(name), join(modules, name));
  symlinkSync(join(packageDir('json-server'), 'node_modules', 'express'), join(modules, 'express'));
  writeFileSync(join(dir, 'data', 'db.json'), JSON.stringify(SEED, null, 2));
  writeFileSync(join(dir, 'routes.json'), JSON.stringify(ROUTES));
  const compromised = installCompromised(dir);
  return {
    app: dir,
    command: [
      process.execPath,
      '--import',
      pathToFileURL(compromised).href,
      join(modules, 'json-server-auth', 'dist', 'bin.js'),
      'data/db.json',
      '--routes',
      'routes.json',
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
    ],
  };
}

const returning: User[] = [{ name: 'alice' }, { name: 'bob' }, { name: 'carol' }];
const fresh: User[] = [{ name: 'erin' }, { name: 'frank' }];

before(async () => {
  work = realpathSync(mkdtempSync(join(tmpdir(), 'leash-json-server-')));
  port = await freePort();
  ({ app, command } = install(work));
  policy = join(work, 'leash.policy.json');
  secret = join(work, 'secret.txt');
  writeFileSync(secret, SECRET_TEXT);
  target = await startTarget(SECRET_TEXT);
  const service = await startService({
    mode: 'learn',
    policy,
    command,
    cwd: app,
    port,
    env: { PORT: String(port) },
  });
  try {
    const w = await learningWorkload(service.base, returning);
    assert.deepEqual(w.failures, [], service.stderr());
    learned.requests = w.requests;
  } finally {
    await service.stop();
  }
});

after(() => target?.close());

test('the learned policy is one to approve: no secrets, writes only to the data file, a portable port', (t) => {
  const text = readFileSync(policy, 'utf8');
  for (const user of [...returning])
    for (const value of [email(user), password(user), user.token!])
      assert.ok(!text.includes(value), `${value} is in the policy`);
  assert.ok(!text.includes(work), `a path of this machine is in the policy:\n${text}`);
  const runtime = JSON.parse(text).runtime as Record<
    string,
    Record<string, Record<string, string[]>>
  >;
  const writes = Object.values(runtime).flatMap((byPackage) =>
    Object.values(byPackage).flatMap((caps) => caps['fs.write'] ?? []),
  );
  for (const path of writes)
    assert.match(path, /^\{app\}\/data\/(\.~)?db\.json$|^\{tmp\}\/routes-from-app\.json$/, path);
  // steno's queue writes the data file for the process; each route that changes the data asks
  // for the write in its own scope (lowdb calls steno through pify).
  assert.deepEqual(runtime['@pool']!.steno!['fs.write'], [
    '{app}/data/.~db.json',
    '{app}/data/db.json',
  ]);
  for (const route of ['POST /posts/', 'PATCH /posts/:id', 'DELETE /posts/:id', 'POST /notes/'])
    assert.deepEqual(runtime[route]?.pify?.['fs.write'], ['{app}/data/db.json'], route);
  for (const route of ['GET /posts/', 'GET /posts/:id'])
    assert.equal(runtime[route]?.pify, undefined, route);
  const rules = Object.values(runtime).flatMap((byPackage) =>
    Object.values(byPackage).flatMap((caps) => Object.values(caps).flat()),
  );
  t.diagnostic(`${rules.length} runtime rules`);
  assert.deepEqual(runtime['@startup']!.express!['net.listen'], ['127.0.0.1:{env:PORT}']);
  assert.ok(learned.requests >= 40, `${learned.requests} requests`);
});

test('enforce: the held-out workload of returning and new users gets 0 refusals; the compromised dependency is refused', async (t) => {
  const service = await startService({
    mode: 'enforce',
    policy,
    command,
    cwd: app,
    port,
    env: { PORT: String(port) },
  });
  const written = join(work, 'written-by-attack.txt');
  try {
    const w = await heldOutWorkload(service.base, returning, fresh);
    assert.deepEqual(w.failures, [], service.stderr());
    assert.deepEqual(violations(service.stderr()), [], 'a legitimate request was refused');
    assert.ok(w.requests >= 60, `${w.requests} requests`);
    t.diagnostic(`learned ${learned.requests} requests; held out ${w.requests}, 0 refused`);

    const results = await sendOrders(service.base, '/posts', {
      read: secret,
      write: written,
      ssrf: target.url,
    });
    assert.deepEqual(results, {
      read: 'refused:ERR_LEASH_DENIED',
      write: 'refused:ERR_LEASH_DENIED',
      ssrf: 'refused:ERR_LEASH_DENIED',
    });
    // Still serving.
    assert.equal((await new Workload(service.base).call('GET', '/posts?_limit=1')).status, 200);
  } finally {
    await service.stop();
  }
  assert.equal(existsSync(written), false);
  assert.deepEqual(target.hits, []);
  const refused = violations(service.stderr());
  for (const capability of ['fs.read', 'fs.write', 'net.connect'])
    assert.ok(
      refused.some((v) => v.startsWith(`GET /posts/ › telemetry-agent › ${capability}`)),
      refused.join('\n'),
    );
});

test('without leash the same compromised dependency reads, writes and reaches the target', async () => {
  const other = realpathSync(mkdtempSync(join(tmpdir(), 'leash-json-server-bare-')));
  const bare = install(other);
  const child = spawnGroup(bare.command[0]!, bare.command.slice(1), { cwd: bare.app });
  try {
    const base = `http://127.0.0.1:${port}`;
    let results: Results | undefined;
    for (let tries = 0; results === undefined; tries++) {
      try {
        results = await sendOrders(base, '/posts', {
          read: secret,
          write: join(other, 'written.txt'),
          ssrf: target.url,
        });
      } catch (error) {
        // Not listening yet (a bare start takes a moment); the limit only bounds a hang.
        if (tries > 600) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    assert.deepEqual(results, { read: SECRET_TEXT, write: 'written', ssrf: SECRET_TEXT });
    assert.ok(existsSync(join(other, 'written.txt')));
  } finally {
    killGroup(child);
  }
});
