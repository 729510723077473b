/**
 * @module
 * Traffic for the example service. `learningWorkload` is what leash watches while it learns;
 * `heldOutWorkload` is different legitimate traffic (other users, notes, file names, cities,
 * search terms, share targets, names to greet) of the same features, which a well-generalised
 * policy should also allow; `attacks` are the four exploits of the deliberately vulnerable runtime
 * routes and `sqlAttacks` the five of the deliberately vulnerable SQL routes
 * (routes/sql-legacy.ts).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Client, type Failure, type Tally } from './client.ts';
import { type DatabaseLocation, openProbe, type Probe } from './inspect.ts';
import { METADATA_SECRET } from './metadata.ts';
import { passwordOf } from './users.ts';

export type { Failure } from './client.ts';
export type { DatabaseLocation, DatabaseSnapshot } from './inspect.ts';
export { snapshotDatabase } from './inspect.ts';

export interface WorkloadSummary {
  requests: number;
  failures: Failure[];
}

/** What one user does in a workload. */
interface Plan {
  user: string;
  /** Titles of notes to create, read, edit, view, rename and search (no quotes: see sql-legacy). */
  notes: string[];
  /** Parts of those titles to search for (both /search and /search-legacy). */
  searches: string[];
  /** Users to share this run's first note with. */
  shareWith: string[];
  /** Upload names (`.txt` or `.png`). */
  files: string[];
  cities: string[];
  /**
   * Addresses for the host lookup: only 127.0.0.1, which /etc/hosts answers for both address
   * families. `localhost` is not enough: getent also asks for its IPv6 address, and without a `::1`
   * line in /etc/hosts that query goes to the DNS server, off the machine.
   */
  hosts: string[];
  /** Names to greet at /hello. */
  greet: string[];
  /** Paths of the service's own pages to preview. */
  previews: string[];
  /** Files the administrator writes into the data directory. */
  adminWrites?: string[];
  exportUploads: boolean;
}

const LEARNING: Plan[] = [
  {
    user: 'alice',
    notes: ['Groceries', 'Meeting notes'],
    searches: ['Groc', 'notes'],
    shareWith: ['bob', 'carol'],
    files: ['todo.txt', 'ideas.txt', 'draft.txt', 'avatar.png', 'chart.png', 'photo.png'],
    cities: ['Paris', 'Oslo'],
    hosts: ['127.0.0.1'],
    greet: ['Ann', 'Bea'],
    previews: ['/'],
    adminWrites: ['motd.txt', 'banner.txt', 'notice.txt'],
    exportUploads: true,
  },
  {
    user: 'bob',
    notes: ['Reading list'],
    searches: ['list'],
    shareWith: ['alice'],
    files: ['books.txt', 'plan.txt', 'log.txt', 'scan.png', 'logo.png', 'map.png'],
    cities: ['Lima', 'Rome'],
    hosts: ['127.0.0.1'],
    greet: ['Cid'],
    previews: ['/static/style.css'],
    exportUploads: true,
  },
  {
    user: 'carol',
    notes: ['Recipes', 'Travel'],
    searches: ['Rec', 'avel'],
    shareWith: ['dave'],
    files: ['soup.txt', 'bread.txt', 'cake.txt', 'kitchen.png', 'oven.png', 'table.png'],
    cities: ['Cairo', 'Tokyo'],
    hosts: ['127.0.0.1'],
    greet: ['Dora', 'Eli'],
    previews: ['/static/app.js'],
    exportUploads: true,
  },
  {
    user: 'dave',
    notes: ['Workout'],
    searches: ['Work'],
    shareWith: ['alice', 'carol'],
    files: ['monday.txt', 'tuesday.txt', 'friday.txt', 'graph.png', 'track.png', 'shoes.png'],
    cities: ['Lagos', 'Quito'],
    hosts: ['127.0.0.1'],
    greet: ['Fay'],
    previews: ['/'],
    exportUploads: true,
  },
];

const HELD_OUT: Plan[] = [
  {
    user: 'erin',
    notes: ['Garden plan'],
    searches: ['Garden'],
    shareWith: ['frank'],
    files: ['seeds.txt', 'harvest.txt', 'beds.png'],
    cities: ['Berlin', 'Madrid'],
    hosts: ['127.0.0.1'],
    greet: ['Gus'],
    previews: ['/?from=preview'],
    exportUploads: true,
  },
  {
    user: 'frank',
    notes: ['Taxes', 'Car service'],
    searches: ['Tax', 'service'],
    shareWith: ['erin', 'bob'],
    files: ['budget.txt', 'receipt.png'],
    cities: ['Nairobi'],
    hosts: ['127.0.0.1'],
    greet: ['Hal', 'Ivy'],
    previews: ['/static/style.css'],
    exportUploads: true,
  },
  {
    user: 'alice',
    notes: ['Birthday ideas'],
    searches: ['ideas'],
    shareWith: ['frank'],
    files: ['journal.txt', 'diagram.png'],
    cities: ['Vienna', 'Lisbon'],
    hosts: ['127.0.0.1'],
    greet: ['Jo', 'Kim'],
    previews: [],
    adminWrites: ['footer.txt'],
    exportUploads: false,
  },
];

export function learningWorkload(base: string): Promise<WorkloadSummary> {
  return runPlans(base, LEARNING);
}

export function heldOutWorkload(base: string): Promise<WorkloadSummary> {
  return runPlans(base, HELD_OUT);
}

/** Who shared which note with whom in this run: recipient → note id → owner. */
type Shares = Map<string, Map<number, string>>;

/**
 * Users act concurrently (as real traffic does); each user's steps run in order. Then, once every
 * share is made, each user logs in again through /login-legacy and reads what was shared with them.
 */
async function runPlans(base: string, plans: Plan[]): Promise<WorkloadSummary> {
  const tally: Tally = { requests: 0, failures: [] };
  const shares: Shares = new Map();
  await Promise.all(plans.map((plan) => runPlan(new Client(base, tally), plan, shares)));
  const users = [...new Set(plans.map((plan) => plan.user))];
  await Promise.all(users.map((user) => readShared(new Client(base, tally), user, shares)));
  return { requests: tally.requests, failures: tally.failures };
}

const q = encodeURIComponent;

function fileContent(user: string, name: string): Buffer {
  if (!name.endsWith('.png')) return Buffer.from(`${name} of ${user}\n`);
  // A PNG signature followed by some bytes: binary content, not a valid image.
  return Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.from(`${user}/${name}`)]);
}

async function runPlan(client: Client, plan: Plan, shares: Shares): Promise<void> {
  const { user } = plan;
  await client.send('GET', '/');
  await client.send('GET', '/static/style.css');
  await client.send('GET', '/static/app.js');
  await client.send('GET', '/static/logo.svg');
  await pages(client, plan);
  const login = await client.send('POST', '/login', {
    json: { user, password: passwordOf(user) },
  });
  if (!login.ok) return;
  await client.send('GET', '/me');
  await client.send('GET', '/');

  const created = await notes(client, plan);
  await sqlFeatures(client, plan, created, shares);
  await files(client, plan);
  for (const city of plan.cities) await client.send('GET', `/weather?city=${q(city)}`);
  for (const host of plan.hosts) await client.send('GET', `/ping?host=${q(host)}`);
  for (const path of plan.previews) {
    await client.send('GET', `/preview?url=${q(client.base + path)}`);
  }
  for (const name of plan.adminWrites ?? []) {
    await client.send('POST', '/admin/write', {
      json: { path: name, content: `${name} set by ${user}\n` },
    });
  }
  if (plan.exportUploads) await exportUploads(client);
  await client.send('POST', '/logout');
}

/**
 * The pages made for a browser, fetched as HTML only: what serving them needs is learned here;
 * what a browser loads from them only a browser can show (test/csp/browser.test.ts).
 */
async function pages(client: Client, plan: Plan): Promise<void> {
  await client.send('GET', '/gallery');
  await client.send('GET', '/clock');
  for (const name of plan.greet) {
    const path = `/hello?name=${q(name)}`;
    const reply = await client.send('GET', path);
    if (reply.ok && !reply.body.includes(`Hello ${name}`))
      client.fail('GET', path, 200, 'no greeting');
  }
}

interface Note {
  id: number;
  owner: string;
  title: string;
  body: string;
}

/** Creates, reads, views and edits notes; returns the ones this run created. */
async function notes(client: Client, plan: Plan): Promise<Note[]> {
  for (const title of plan.notes) {
    await client.json<Note>('POST', '/notes', { json: { title, body: `About ${title}.` } });
  }
  const mine = (await client.json<Note[]>('GET', '/notes')) ?? [];
  for (const note of mine) {
    const read = await client.json<Note>('GET', `/notes/${note.id}`);
    if (read && read.title !== note.title) {
      client.fail('GET', `/notes/${note.id}`, 200, 'wrong note');
    }
    await client.send('GET', `/notes/${note.id}/view`);
  }
  // Edit the notes this run created (the last ones), leaving older ones alone.
  const created = plan.notes.length === 0 ? [] : mine.slice(-plan.notes.length);
  for (const note of created) {
    await client.send('PUT', `/notes/${note.id}`, {
      json: { title: note.title, body: `About ${note.title}, edited.` },
    });
  }
  return created;
}

/**
 * Search, the legacy SQL routes used as intended (on the user's own notes, ids taken from
 * GET /notes), and sharing.
 */
async function sqlFeatures(
  client: Client,
  plan: Plan,
  created: Note[],
  shares: Shares,
): Promise<void> {
  for (const term of plan.searches) {
    for (const route of ['/search', '/search-legacy']) {
      const path = `${route}?q=${q(term)}`;
      const found = await client.json<Note[]>('GET', path);
      if (found && !found.some((note) => note.title.includes(term))) {
        client.fail('GET', path, 200, `no note with "${term}" in its title`);
      }
    }
  }
  const mine = (await client.json<Note[]>('GET', '/notes')) ?? [];
  for (const note of mine) {
    const read = await client.json<Note>('GET', `/notes-legacy/${note.id}`);
    if (read && read.title !== note.title) {
      client.fail('GET', `/notes-legacy/${note.id}`, 200, 'wrong note');
    }
  }
  for (const note of created) {
    const title = `${note.title} v2`;
    const path = `/notes/${note.id}/rename-legacy`;
    const renamed = await client.json<Note>('POST', path, { json: { title } });
    if (renamed && renamed.title !== title) client.fail('POST', path, 200, 'not renamed');
    const body = `About ${title}, edited again.`;
    await client.send('PUT', `/notes-legacy/${note.id}`, { json: { body } });
    const read = await client.json<Note>('GET', `/notes/${note.id}`);
    if (read && read.body !== body) client.fail('GET', `/notes/${note.id}`, 200, 'body not saved');
  }
  const first = created[0];
  if (first === undefined) return;
  for (const recipient of plan.shareWith) {
    const shared = await client.send('POST', `/notes/${first.id}/share`, {
      json: { with: recipient },
    });
    if (!shared.ok) continue;
    const received = shares.get(recipient) ?? new Map<number, string>();
    received.set(first.id, plan.user);
    shares.set(recipient, received);
  }
}

/** Logs in through /login-legacy and reads every note shared with the user in this run. */
async function readShared(client: Client, user: string, shares: Shares): Promise<void> {
  const login = await client.json<{ user: string }>('POST', '/login-legacy', {
    json: { user, password: passwordOf(user) },
  });
  if (!login) return;
  const me = await client.json<{ user: string }>('GET', '/me');
  if (me && me.user !== user) client.fail('GET', '/me', 200, `logged in as ${me.user}`);
  const listed = (await client.json<Note[]>('GET', '/shared')) ?? [];
  for (const [id, owner] of shares.get(user) ?? []) {
    if (!listed.some((note) => note.id === id)) {
      client.fail('GET', '/shared', 200, `note ${id} of ${owner} missing`);
    }
    const note = await client.json<Note>('GET', `/notes/${id}`);
    if (note && note.owner !== owner) client.fail('GET', `/notes/${id}`, 200, 'wrong owner');
  }
  await client.send('POST', '/logout');
}

async function files(client: Client, plan: Plan): Promise<void> {
  for (const name of plan.files) {
    await client.send('POST', `/upload?name=${q(name)}`, {
      body: fileContent(plan.user, name),
      contentType: 'application/octet-stream',
    });
  }
  await client.send('GET', '/files');
  for (const name of plan.files) {
    const expected = fileContent(plan.user, name).toString('latin1');
    for (const path of [`/files/${q(name)}`, `/download?file=${q(`${plan.user}/${name}`)}`]) {
      const reply = await client.send('GET', path);
      // The body is decoded as UTF-8 text, so compare only what survives that: the text files.
      if (reply.ok && name.endsWith('.txt') && reply.body !== expected) {
        client.fail('GET', path, reply.status, 'content differs from the upload');
      }
    }
  }
}

async function exportUploads(client: Client): Promise<void> {
  const job = await client.json<{ id: string }>('POST', '/export');
  if (!job) return;
  const path = `/export/${job.id}`;
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const state = await client.json<{ status: string; error?: string }>('GET', path);
    if (!state) return;
    if (state.status === 'done') return;
    if (state.status === 'failed') {
      client.fail('GET', path, 200, `export failed: ${state.error ?? 'unknown'}`);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  client.fail('GET', path, 200, 'export still running after 10 s');
}

export type AttackName = 'path-traversal' | 'file-write' | 'command-injection' | 'ssrf';

export interface AttackOutcome {
  succeeded: boolean;
  /** The HTTP status of the attack request (0: no response). */
  status: number;
  /** What shows success or failure: the leaked text, the file found, or the error. */
  evidence: string;
}

export interface Attack {
  name: AttackName;
  description: string;
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
  /** Logs in as an ordinary user, sends the request, and checks whether the exploit worked. */
  run(): Promise<AttackOutcome>;
}

export interface AttackOptions {
  /** A directory of the caller's, outside the data directory; attacks write only in it. */
  tmpDir: string;
  /** Where the metadata service listens (http://127.0.0.9:<port>). */
  metadataBase: string;
  /** The account the attacker uses; default bob. */
  user?: string;
}

export function attacks(base: string, options: AttackOptions): Attack[] {
  const { tmpDir, metadataBase, user = 'bob' } = options;
  // The marker path goes into a shell string, so keep it to characters that need no quoting.
  if (!/^[\w./-]+$/.test(tmpDir)) throw new Error(`tmpDir must be a plain path: ${tmpDir}`);
  const writeTarget = join(tmpDir, 'written-by-attack.txt');
  const writeContent = 'leash demo: arbitrary file write\n';
  const marker = join(tmpDir, 'injected-marker');

  const send = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
    const client = new Client(base);
    await client.send('POST', '/login', { json: { user, password: passwordOf(user) } });
    return client.send(method, path, body === undefined ? {} : { json: body });
  };

  const traversal = `/download?file=${'../'.repeat(16)}etc/passwd`;
  const write = { path: writeTarget, content: writeContent };
  const injection = `/ping?host=${q(`127.0.0.1; touch ${marker}`)}`;
  const ssrf = `/preview?url=${q(`${metadataBase}/latest/meta-data/iam`)}`;

  return [
    {
      name: 'path-traversal',
      description: 'read /etc/passwd through the download route',
      method: 'GET',
      path: traversal,
      async run() {
        const reply = await send('GET', traversal);
        const succeeded = reply.ok && /^root:/m.test(reply.body);
        return { succeeded, status: reply.status, evidence: reply.body.slice(0, 200) };
      },
    },
    {
      name: 'file-write',
      description: `write ${writeTarget}, outside the data directory`,
      method: 'POST',
      path: '/admin/write',
      body: write,
      async run() {
        rmSync(writeTarget, { force: true });
        const reply = await send('POST', '/admin/write', write);
        const written = existsSync(writeTarget) ? readFileSync(writeTarget, 'utf8') : undefined;
        return {
          succeeded: written === writeContent,
          status: reply.status,
          evidence:
            written === undefined ? `no file; answer: ${reply.body.slice(0, 200)}` : writeTarget,
        };
      },
    },
    {
      name: 'command-injection',
      description: `run \`touch ${marker}\` through the host lookup's shell string`,
      method: 'GET',
      path: injection,
      async run() {
        rmSync(marker, { force: true });
        const reply = await send('GET', injection);
        const succeeded = existsSync(marker);
        const evidence = succeeded ? marker : `no marker; answer: ${reply.body.slice(0, 200)}`;
        return { succeeded, status: reply.status, evidence };
      },
    },
    {
      name: 'ssrf',
      description: 'fetch the metadata service secret through the link preview',
      method: 'GET',
      path: ssrf,
      async run() {
        const reply = await send('GET', ssrf);
        const succeeded = reply.ok && reply.body.includes(METADATA_SECRET);
        return { succeeded, status: reply.status, evidence: reply.body.slice(0, 200) };
      },
    },
  ];
}

export type SqlAttackName =
  | 'sql-login-bypass'
  | 'sql-union'
  | 'sql-stacked-query'
  | 'sql-idor-read'
  | 'sql-idor-update';

export interface SqlAttack {
  name: SqlAttackName;
  description: string;
  method: 'GET' | 'POST' | 'PUT';
  /** The route attacked (ids filled in when the attack runs). */
  path: string;
  /** What the attacker sends: the injected text, or the id of someone else's note. */
  payload: string;
  /**
   * Sends the attack and checks whether it worked, against the database itself where the attack
   * changes or reads it: the table exists, the victim's row holds the attacker's text, the
   * answer holds the hashes the users table has, the answer is the victim's note as stored.
   */
  run(): Promise<AttackOutcome>;
}

export interface SqlAttackOptions extends DatabaseLocation {
  /** The account the attacker uses; default bob. */
  user?: string;
  /** Whose note the IDOR attacks go after and whose login is bypassed; default alice. */
  victim?: string;
}

/**
 * The five attacks on routes/sql-legacy.ts. `dataDir` and `databaseUrl` are the server's DATA_DIR
 * and DATABASE_URL: the attacks look into that database to tell whether they worked. To show that
 * nothing changed, compare `snapshotDatabase()` before and after.
 */
export function sqlAttacks(base: string, options: SqlAttackOptions): SqlAttack[] {
  const { user = 'bob', victim = 'alice' } = options;
  if (user === victim) throw new Error('the attacker and the victim must differ');
  const location: DatabaseLocation = {
    dataDir: options.dataDir,
    databaseUrl: options.databaseUrl,
  };
  const loggedIn = async (): Promise<Client> => {
    const client = new Client(base);
    await client.send('POST', '/login', { json: { user, password: passwordOf(user) } });
    return client;
  };
  const withProbe = async <T>(use: (probe: Probe) => Promise<T>): Promise<T> => {
    const probe = await openProbe(location);
    try {
      return await use(probe);
    } finally {
      await probe.close();
    }
  };
  /** The victim's first note, as stored. */
  const victimNote = async (probe: Probe) => {
    const note = (await probe.notesOf(victim))[0];
    if (!note) throw new Error(`${victim} has no note to attack`);
    return note;
  };

  const bypass = `${victim}' --`;
  const union = "%' UNION SELECT 0, name || ':' || password_hash FROM users --";
  const stacked = (id: number | string) => `x' WHERE id = ${id}; CREATE TABLE pwned (x int); --`;

  return [
    {
      name: 'sql-login-bypass',
      description: `log in as ${victim} without the password: the name "${bypass}" comments the check out`,
      method: 'POST',
      path: '/login-legacy',
      payload: bypass,
      async run() {
        const client = new Client(base);
        const reply = await client.send('POST', '/login-legacy', {
          json: { user: bypass, password: 'not-the-password' },
        });
        const me = await client.send('GET', '/me');
        const who = me.ok ? (JSON.parse(me.body) as { user?: string }).user : undefined;
        return {
          succeeded: who === victim,
          status: reply.status,
          evidence: `login answered ${reply.status} ${reply.body.slice(0, 120)}; /me: ${me.status} ${me.body.slice(0, 120)}`,
        };
      },
    },
    {
      name: 'sql-union',
      description: 'list every password hash through a UNION in the legacy search',
      method: 'GET',
      path: '/search-legacy',
      payload: union,
      async run() {
        const client = await loggedIn();
        const reply = await client.send('GET', `/search-legacy?q=${q(union)}`);
        const hashes = await withProbe(async (probe) =>
          (await probe.users()).map((row) => row.password_hash),
        );
        const leaked = hashes.filter((hash) => reply.body.includes(hash));
        return {
          succeeded: hashes.length > 0 && leaked.length === hashes.length,
          status: reply.status,
          evidence: `${leaked.length} of ${hashes.length} password hashes in the answer: ${reply.body.slice(0, 160)}`,
        };
      },
    },
    {
      name: 'sql-stacked-query',
      description: 'create a table `pwned` with a second statement in the legacy rename',
      method: 'POST',
      path: '/notes/:id/rename-legacy',
      payload: stacked('<own note id>'),
      async run() {
        const client = await loggedIn();
        await withProbe((probe) => probe.dropTable('pwned'));
        const own = (await client.json<Note[]>('GET', '/notes'))?.[0];
        if (!own) return { succeeded: false, status: 0, evidence: `${user} has no note` };
        const reply = await client.send('POST', `/notes/${own.id}/rename-legacy`, {
          json: { title: stacked(own.id) },
        });
        const tables = await withProbe((probe) => probe.tables());
        const succeeded = tables.includes('pwned');
        return {
          succeeded,
          status: reply.status,
          evidence: `tables: ${tables.join(', ')}; answer: ${reply.body.slice(0, 160)}`,
        };
      },
    },
    {
      name: 'sql-idor-read',
      description: `read ${victim}'s note by its id through the legacy note route`,
      method: 'GET',
      path: '/notes-legacy/:id',
      payload: `${victim}'s note id`,
      async run() {
        const target = await withProbe(victimNote);
        const client = await loggedIn();
        const reply = await client.send('GET', `/notes-legacy/${target.id}`);
        let read: Partial<Note> = {};
        try {
          read = JSON.parse(reply.body) as Note;
        } catch {
          // Not JSON: no note came back.
        }
        return {
          succeeded: reply.ok && read.owner === victim && read.body === target.body,
          status: reply.status,
          evidence: `note ${target.id} of ${victim}; answer: ${reply.body.slice(0, 160)}`,
        };
      },
    },
    {
      name: 'sql-idor-update',
      description: `overwrite ${victim}'s note through the legacy update route`,
      method: 'PUT',
      path: '/notes-legacy/:id',
      payload: `${victim}'s note id`,
      async run() {
        const target = await withProbe(victimNote);
        const marker = `overwritten by ${user} ${randomBytes(4).toString('hex')}`;
        const client = await loggedIn();
        const reply = await client.send('PUT', `/notes-legacy/${target.id}`, {
          json: { body: marker },
        });
        const after = await withProbe((probe) => probe.note(target.id));
        return {
          succeeded: after?.body === marker,
          status: reply.status,
          evidence: `note ${target.id} of ${victim} now: ${JSON.stringify(after?.body)}; answer: ${reply.body.slice(0, 120)}`,
        };
      },
    },
  ];
}
