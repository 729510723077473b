/**
 * @module
 * Traffic for the example service. `learningWorkload` is what leash watches while it learns;
 * `heldOutWorkload` is different legitimate traffic (other users, notes, file names, cities) of
 * the same features, which a well-generalised policy should also allow; `attacks` are the four
 * exploits of the deliberately vulnerable routes.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Client, type Failure, type Tally } from './client.ts';
import { METADATA_SECRET } from './metadata.ts';
import { passwordOf } from './users.ts';

export type { Failure } from './client.ts';

export interface WorkloadSummary {
  requests: number;
  failures: Failure[];
}

/** What one user does in a workload. */
interface Plan {
  user: string;
  /** Titles of notes to create, read, edit and view. */
  notes: string[];
  /** Upload names (`.txt` or `.png`). */
  files: string[];
  cities: string[];
  /** Names for the host lookup; only names /etc/hosts has, so no DNS query leaves the machine. */
  hosts: string[];
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
    files: ['todo.txt', 'ideas.txt', 'draft.txt', 'avatar.png', 'chart.png', 'photo.png'],
    cities: ['Paris', 'Oslo'],
    hosts: ['127.0.0.1', 'localhost'],
    previews: ['/'],
    adminWrites: ['motd.txt', 'banner.txt', 'notice.txt'],
    exportUploads: true,
  },
  {
    user: 'bob',
    notes: ['Reading list'],
    files: ['books.txt', 'plan.txt', 'log.txt', 'scan.png', 'logo.png', 'map.png'],
    cities: ['Lima', 'Rome'],
    hosts: ['localhost'],
    previews: ['/static/style.css'],
    exportUploads: true,
  },
  {
    user: 'carol',
    notes: ['Recipes', 'Travel'],
    files: ['soup.txt', 'bread.txt', 'cake.txt', 'kitchen.png', 'oven.png', 'table.png'],
    cities: ['Cairo', 'Tokyo'],
    hosts: ['127.0.0.1'],
    previews: ['/static/app.js'],
    exportUploads: true,
  },
  {
    user: 'dave',
    notes: ['Workout'],
    files: ['monday.txt', 'tuesday.txt', 'friday.txt', 'graph.png', 'track.png', 'shoes.png'],
    cities: ['Lagos', 'Quito'],
    hosts: ['localhost'],
    previews: ['/'],
    exportUploads: true,
  },
];

const HELD_OUT: Plan[] = [
  {
    user: 'erin',
    notes: ['Garden plan'],
    files: ['seeds.txt', 'harvest.txt', 'beds.png'],
    cities: ['Berlin', 'Madrid'],
    hosts: ['localhost'],
    previews: ['/?from=preview'],
    exportUploads: true,
  },
  {
    user: 'frank',
    notes: ['Taxes', 'Car service'],
    files: ['budget.txt', 'receipt.png'],
    cities: ['Nairobi'],
    hosts: ['127.0.0.1'],
    previews: ['/static/style.css'],
    exportUploads: true,
  },
  {
    user: 'alice',
    notes: ['Birthday ideas'],
    files: ['journal.txt', 'diagram.png'],
    cities: ['Vienna', 'Lisbon'],
    hosts: ['localhost'],
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

/** Users act concurrently (as real traffic does); each user's steps run in order. */
async function runPlans(base: string, plans: Plan[]): Promise<WorkloadSummary> {
  const tally: Tally = { requests: 0, failures: [] };
  await Promise.all(plans.map((plan) => runPlan(new Client(base, tally), plan)));
  return { requests: tally.requests, failures: tally.failures };
}

const q = encodeURIComponent;

function fileContent(user: string, name: string): Buffer {
  if (!name.endsWith('.png')) return Buffer.from(`${name} of ${user}\n`);
  // A PNG signature followed by some bytes: binary content, not a valid image.
  return Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.from(`${user}/${name}`)]);
}

async function runPlan(client: Client, plan: Plan): Promise<void> {
  const { user } = plan;
  await client.send('GET', '/');
  await client.send('GET', '/static/style.css');
  await client.send('GET', '/static/app.js');
  const login = await client.send('POST', '/login', {
    json: { user, password: passwordOf(user) },
  });
  if (!login.ok) return;
  await client.send('GET', '/me');
  await client.send('GET', '/');

  await notes(client, plan);
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

interface Note {
  id: number;
  title: string;
}

async function notes(client: Client, plan: Plan): Promise<void> {
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
  for (const note of plan.notes.length === 0 ? [] : mine.slice(-plan.notes.length)) {
    await client.send('PUT', `/notes/${note.id}`, {
      json: { title: note.title, body: `About ${note.title}, edited.` },
    });
  }
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
