// Actual's sync server (@actual-app/sync-server 26.9.0: Express 5, better-sqlite3 for accounts,
// sessions, secrets and each budget's sync messages, files on disk), installed from npm and run
// unmodified under leash: learn from one workload, restart under `leash enforce` (default layers),
// replay a different held-out workload that starts with the returning user logging in again, and
// expect 0 refusals. Then two attacks: the server's own SimpleFIN claim, which POSTs to whatever
// URL a stored setup token names (private addresses allowed, for self-hosted SimpleFIN), aimed at a
// server of the test's own on 127.0.0.9 (a route never used while learning: refused at its first
// statement); and a compromised dependency loaded with the service, in a learned route, reading a
// file outside its data, writing one and calling the same server. Each is refused, with no effect.
// The server is single-user without OpenID, so the returning user is its owner; the session token
// and budget id arrive in headers, named as sql inputs in leash.config.json.
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import {
  create,
  fromBinary,
  MessageEnvelopeSchema,
  MessageSchema,
  SyncRequestSchema,
  SyncResponseSchema,
  Timestamp,
  toBinary,
} from '@actual-app/crdt';
import { freePort } from '../../examples/service/start.ts';
import {
  installCompromised,
  sendOrders,
  startService,
  startTarget,
  type Target,
  violations,
  Workload,
} from './harness.ts';

const SERVER = join(
  dirname(createRequire(import.meta.url).resolve('@actual-app/sync-server/package.json')),
  'build',
  'bin',
  'actual-server.js',
);
const PASSWORD = 'correct-horse-battery-staple';
const SECRET_TEXT = `secret-${process.pid}`;

let work: string;
let app: string;
let policy: string;
let port: number;
let command: string[];
let secret: string;
let target: Target;
let learnedRequests = 0;

const env = () => ({
  ACTUAL_PORT: String(port),
  ACTUAL_HOSTNAME: '127.0.0.1',
  ACTUAL_DATA_DIR: join(app, 'data'),
});

/** A logged-in client of the sync API: its token goes in `x-actual-token`. */
class Budgeter {
  token = '';
  /** Budgets with an encryption key: uploads and syncs must name it. */
  readonly keyed = new Set<string>();
  clock = Date.parse('2026-11-01T09:00:00Z');
  readonly node: string;
  readonly w: Workload;
  constructor(w: Workload, node: string) {
    this.w = w;
    this.node = node;
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { 'x-actual-token': this.token, ...extra };
  }

  async login(): Promise<void> {
    const answer = await this.w.call('POST', '/account/login', {
      json: { loginMethod: 'password', password: PASSWORD },
    });
    if (answer.status === 200) this.token = answer.json<{ data: { token: string } }>().data.token;
    await this.w.call('GET', '/account/validate', { headers: this.headers() });
  }

  async upload(fileId: string, name: string, groupId?: string): Promise<string> {
    const answer = await this.w.call('POST', '/sync/upload-user-file', {
      body: new TextEncoder().encode(`PK budget ${name} ${fileId}`),
      headers: this.headers({
        'content-type': 'application/encrypted-file',
        'x-actual-file-id': fileId,
        'x-actual-name': encodeURIComponent(name),
        'x-actual-format': '2',
        ...(groupId === undefined ? {} : { 'x-actual-group-id': groupId }),
        ...(this.keyed.has(fileId)
          ? { 'x-actual-encrypt-meta': JSON.stringify({ keyId: `key-${fileId}` }) }
          : {}),
      }),
    });
    return answer.status === 200 ? answer.json<{ groupId: string }>().groupId : '';
  }

  private timestamp(): string {
    this.clock += 1000;
    return new Timestamp(this.clock, 0, this.node).toString();
  }

  async sync(fileId: string, groupId: string, amounts: number[]): Promise<void> {
    const since = this.timestamp();
    const messages = amounts.map((amount, i) =>
      create(MessageEnvelopeSchema, {
        timestamp: this.timestamp(),
        isEncrypted: false,
        content: toBinary(
          MessageSchema,
          create(MessageSchema, {
            dataset: 'transactions',
            row: `${fileId}-row-${i}`,
            column: 'amount',
            value: `N:${amount}`,
          }),
        ),
      }),
    );
    const answer = await this.w.call('POST', '/sync/sync', {
      body: toBinary(
        SyncRequestSchema,
        create(SyncRequestSchema, {
          messages,
          fileId,
          groupId,
          keyId: this.keyed.has(fileId) ? `key-${fileId}` : '',
          since,
        }),
      ),
      headers: this.headers({ 'content-type': 'application/actual-sync' }),
    });
    if (answer.status === 200) {
      const response = fromBinary(SyncResponseSchema, new Uint8Array(answer.bytes));
      assert.ok(response.merkle.length > 0);
    }
  }

  /** What the app does with one budget: look, download, rename, sync, keys. */
  async work(fileId: string, groupId: string, name: string, amounts: number[]): Promise<void> {
    const file = this.headers({ 'x-actual-file-id': fileId });
    await this.w.call('GET', '/sync/list-user-files', { headers: this.headers() });
    await this.w.call('GET', '/sync/get-user-file-info', { headers: file });
    await this.w.call('GET', '/sync/download-user-file', { headers: file });
    await this.w.call('POST', '/sync/update-user-filename', {
      json: { fileId, name: `${name} (renamed)` },
      headers: this.headers(),
    });
    await this.sync(fileId, groupId, amounts);
    await this.w.call('POST', '/sync/user-create-key', {
      json: {
        fileId,
        keyId: `key-${fileId}`,
        keySalt: `salt-${name}`,
        testContent: `{"v":"${name}"}`,
      },
      headers: this.headers(),
    });
    this.keyed.add(fileId);
    await this.w.call('POST', '/sync/user-get-key', { json: { fileId }, headers: this.headers() });
  }
}

async function common(w: Workload): Promise<void> {
  for (const path of [
    '/',
    '/info',
    '/health',
    '/mode',
    '/account/needs-bootstrap',
    '/account/login-methods',
  ])
    await w.call('GET', path);
}

async function learningWorkload(base: string): Promise<Workload> {
  const w = new Workload(base);
  await w.call('POST', '/account/bootstrap', { json: { password: PASSWORD } });
  await common(w);
  const owner = new Budgeter(w, 'A1B2C3D4E5F60718');
  // The owner signs in from three devices over a few seconds: each login clears sessions older
  // than an hour before now, a value that differs from login to login.
  for (let device = 0; device < 3; device++) {
    if (device > 0) await new Promise((resolve) => setTimeout(resolve, 1100));
    await owner.login();
  }
  const budgets = [
    ['house-2026', 'House 2026'],
    ['trip-lisbon', 'Trip to Lisbon'],
    ['garden-club', 'Garden club'],
    ['old-flat', 'Old flat'],
    ['school-trip', 'School trip'],
  ] as const;
  for (const [i, [fileId, name]] of budgets.entries()) {
    const groupId = await owner.upload(fileId, name);
    await owner.work(fileId, groupId, name, [100 + i, 2500 - i, -300 * (i + 1)]);
    await owner.upload(fileId, `${name} v2`, groupId);
  }
  for (const [name, value] of [
    ['gocardless_secretId', 'learning-secret-id'],
    ['pluggyai_clientId', 'learning-client-id'],
    ['akahu_appToken', 'learning-app-token'],
  ]) {
    await w.call('POST', '/secret', { json: { name, value }, headers: owner.headers() });
    await w.call('GET', `/secret/${name}`, { headers: owner.headers(), expect: [204] });
  }
  for (const fileId of ['garden-club', 'old-flat', 'school-trip']) {
    await w.call('POST', '/sync/reset-user-file', { json: { fileId }, headers: owner.headers() });
    await w.call('POST', '/sync/delete-user-file', { json: { fileId }, headers: owner.headers() });
  }
  return w;
}

/** The owner logs in again first; other budgets, names, amounts and clocks; a wrong password. */
async function heldOutWorkload(base: string): Promise<Workload> {
  const w = new Workload(base);
  const owner = new Budgeter(w, '0F1E2D3C4B5A6978');
  owner.clock = Date.parse('2026-12-03T18:30:00Z');
  await owner.login();
  await w.call('POST', '/account/login', {
    json: { loginMethod: 'password', password: 'not-it' },
    expect: [400],
  });
  await common(w);
  // A budget of the learning run, synced again.
  const info = await w.call('GET', '/sync/get-user-file-info', {
    headers: owner.headers({ 'x-actual-file-id': 'trip-lisbon' }),
  });
  const learnedGroup =
    info.status === 200 ? info.json<{ data: { groupId: string } }>().data.groupId : '';
  owner.keyed.add('trip-lisbon');
  await owner.work('trip-lisbon', learnedGroup, 'Lisbon', [77, 88, 99, -12]);
  const budgets = [
    ['family-2027', 'Family 2027'],
    ['bakery-shop', 'Bakery shop'],
    ['wedding-fund', 'Wedding fund'],
    ['car-repairs', 'Car repairs'],
  ] as const;
  for (const [i, [fileId, name]] of budgets.entries()) {
    const groupId = await owner.upload(fileId, name);
    await owner.work(fileId, groupId, name, [4200 + i, -17 * i, 5, 31_000]);
  }
  await w.call('GET', '/secret/gocardless_secretId', { headers: owner.headers(), expect: [204] });
  await w.call('POST', '/secret', {
    json: { name: 'gocardless_secretKey', value: 'held-out-secret-key' },
    headers: owner.headers(),
  });
  await w.call('POST', '/sync/reset-user-file', {
    json: { fileId: 'car-repairs' },
    headers: owner.headers(),
  });
  await w.call('POST', '/sync/delete-user-file', {
    json: { fileId: 'wedding-fund' },
    headers: owner.headers(),
  });
  return w;
}

before(async () => {
  work = realpathSync(mkdtempSync(join(tmpdir(), 'leash-actual-')));
  app = join(work, 'app');
  mkdirSync(join(app, 'data'), { recursive: true });
  // The session token and the budget's id come in headers: inputs for the sql module's slots.
  writeFileSync(
    join(app, 'leash.config.json'),
    JSON.stringify({ inputHeaders: ['x-actual-token', 'x-actual-file-id'] }),
  );
  const compromised = installCompromised(app);
  command = [process.execPath, '--import', pathToFileURL(compromised).href, SERVER];
  policy = join(work, 'leash.policy.json');
  port = await freePort();
  secret = join(work, 'secret.txt');
  writeFileSync(secret, SECRET_TEXT);
  target = await startTarget(SECRET_TEXT);
  const service = await startService({
    mode: 'learn',
    policy,
    command,
    cwd: app,
    port,
    env: env(),
  });
  try {
    const w = await learningWorkload(service.base);
    assert.deepEqual(w.failures, [], service.stderr());
    learnedRequests = w.requests;
  } finally {
    await service.stop();
  }
});

after(() => target?.close());

test('the learned policy holds no password or token and no path of this machine', () => {
  const text = readFileSync(policy, 'utf8');
  for (const value of [PASSWORD, 'learning-secret-id', 'learning-app-token', work])
    assert.ok(!text.includes(value), `${value} is in the policy`);
  assert.ok(learnedRequests >= 40, `${learnedRequests} requests`);
});

test('enforce: the held-out workload of the returning user gets 0 refusals; SSRF and the compromised dependency are refused', async (t) => {
  const service = await startService({
    mode: 'enforce',
    policy,
    command,
    cwd: app,
    port,
    env: env(),
  });
  const written = join(work, 'written-by-attack.txt');
  try {
    const w = await heldOutWorkload(service.base);
    assert.deepEqual(w.failures, [], service.stderr());
    assert.deepEqual(violations(service.stderr()), [], 'a legitimate request was refused');
    t.diagnostic(`learned ${learnedRequests} requests; held out ${w.requests}, 0 refused`);

    // The server's own SSRF: a SimpleFIN setup token is a base64 claim URL that it POSTs to.
    const attacker = new Budgeter(new Workload(service.base), '1111222233334444');
    await attacker.login();
    await attacker.w.call('POST', '/secret', {
      json: {
        name: 'simplefin_token',
        value: Buffer.from(`${target.url}claim`).toString('base64'),
      },
      headers: attacker.headers(),
    });
    const claim = await attacker.w.call('POST', '/simplefin/accounts', {
      json: {},
      headers: attacker.headers(),
      expect: [500],
    });
    assert.doesNotMatch(claim.text, new RegExp(SECRET_TEXT));

    const results = await sendOrders(service.base, '/info', {
      read: secret,
      write: written,
      ssrf: target.url,
    });
    assert.deepEqual(results, {
      read: 'refused:ERR_LEASH_DENIED',
      write: 'refused:ERR_LEASH_DENIED',
      ssrf: 'refused:ERR_LEASH_DENIED',
    });
    assert.equal((await new Workload(service.base).call('GET', '/health')).status, 200);
  } finally {
    await service.stop();
  }
  assert.deepEqual(target.hits, []);
  assert.equal(existsSync(written), false);
  const refused = violations(service.stderr());
  // The claim route was never used while learning: its first statement (the session lookup) is
  // refused before the server gets to the claim.
  assert.ok(
    refused.some((v) => v.startsWith('POST /simplefin/accounts ›')),
    refused.join('\n'),
  );
  for (const capability of ['fs.read', 'fs.write', 'net.connect'])
    assert.ok(
      refused.some((v) => v.startsWith(`GET /info › telemetry-agent › ${capability}`)),
      refused.join('\n'),
    );
});
