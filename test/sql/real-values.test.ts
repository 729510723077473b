// SQL values as real services produce them: learned from one workload, enforced on a held-out one
// whose every value is new (0 refusals), with no e-mail, password or token of either workload in
// the policy. Search terms wrapped for LIKE, a price parsed out of its input, trimmed and
// lower-cased e-mails follow their request input; a constant the code picks repeats into a set.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startUnder } from '../runtime/helpers.ts';

const SERVICE = fileURLToPath(new URL('./fixtures/shop-service.mjs', import.meta.url));

interface Customer {
  email: string;
  name: string;
  password: string;
  token: string;
  search: string;
  price: string;
}

const customer = (name: string, i: number): Customer => ({
  email: `  ${name.toUpperCase()}@Example.org `,
  name: ` ${name} `,
  password: `${name}-correct-horse-${i}`,
  token: `tok_${Buffer.from(`${name}:${i}:leash-test-token`).toString('base64url')}`,
  search: ['tea', 'rye', 'bread', 'green', 'jam', 'old'][i % 6]!,
  price: `$${3 + i}.${50 + i}`,
});

async function send(base: string, path: string, options: { body?: unknown; token?: string } = {}) {
  const response = await fetch(new URL(path, base), {
    method: options.body === undefined ? 'GET' : 'POST',
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    ...(options.token === undefined ? {} : { headers: { 'x-api-token': options.token } }),
  });
  return { status: response.status, body: await response.text() };
}

async function workload(base: string, customers: readonly Customer[]): Promise<string[]> {
  const failures: string[] = [];
  const expect = async (label: string, reply: Promise<{ status: number; body: string }>) => {
    const { status, body } = await reply;
    if (status !== 200) failures.push(`${label}: ${status} ${body}`);
  };
  for (const c of customers) {
    await expect('signup', send(base, '/signup', { body: c }));
    await expect('me', send(base, '/me', { token: c.token }));
    await expect('search', send(base, `/search?q=${encodeURIComponent(c.search)}`));
    await expect('buy', send(base, '/buy', { body: { price: c.price } }));
    await expect('archive', send(base, '/archive'));
  }
  return failures;
}

test('a held-out workload of all-new values passes, and no secret of either workload is in the policy', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'leash-shop-'));
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  writeFileSync(
    join(dir, 'leash.config.json'),
    JSON.stringify({ mode: { runtime: 'off', default: 'learn' }, flushIntervalMs: 100 }),
  );
  const env = { DATA_DIR: dataDir };
  const learningCustomers = ['ann', 'bob', 'cy', 'dan'].map(customer);
  const heldOut = ['eve', 'fay', 'gus', 'hal', 'ivy'].map((n, i) => customer(n, i + 10));

  const learning = await startUnder(['learn', '--', process.execPath, SERVICE], { cwd: dir, env });
  try {
    assert.deepEqual(await workload(learning.base, learningCustomers), []);
  } finally {
    await learning.stop();
  }
  const text = readFileSync(join(dir, 'leash.policy.json'), 'utf8');
  for (const c of learningCustomers) {
    for (const secret of [c.password, c.token, c.email.trim(), c.email.trim().toLowerCase()])
      assert.ok(!text.includes(secret), `the policy contains ${secret}`);
  }
  assert.doesNotMatch(text, /@example\.org/i, 'no e-mail address');
  const sql = JSON.parse(text).sql;
  assert.deepEqual(
    sql['GET /search']['SELECT title FROM items WHERE title LIKE $1 AND status = $2'],
    { $1: ['=request.query.q|contains'], $2: ['in ["active"]'] },
  );
  assert.deepEqual(sql['POST /buy']['INSERT INTO orders(price) VALUES ($1)'], {
    $1: ['=request.body.price|number'],
  });
  assert.deepEqual(
    sql['POST /signup'][
      'INSERT INTO users(email, name, password_hash, token) VALUES ($1, $2, $3, $4)'
    ],
    {
      $1: ['=request.body.email|lower'],
      $2: ['=request.body.name|trim'],
      $3: ['*'],
      $4: ['=request.body.token'],
    },
  );
  assert.deepEqual(sql['GET /archive']['SELECT title FROM items WHERE status = $1'], {
    $1: ['in ["archived"]'],
  });

  const enforcing = await startUnder(
    ['enforce', '--layer=process', '--', process.execPath, SERVICE],
    { cwd: dir, env },
  );
  try {
    assert.deepEqual(await workload(enforcing.base, heldOut), []);
  } finally {
    await enforcing.stop();
  }
  assert.doesNotMatch(enforcing.stderr(), /"event":"violation"/);
});
