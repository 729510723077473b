import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Policy } from '../core/policy.ts';
import { rules } from '../core/tree.ts';
import { registryWith } from '../modules/builtin.ts';
import { parsePolicy } from '../store/policy-file.ts';
import { groupPolicy, groupRoutes, LOGIN, routeScopes, UNPRIVILEGED } from './groups.ts';

type Runtime = Record<string, Record<string, Record<string, string[]>>>;

function policy(runtime: Runtime, sql: Record<string, unknown> = {}): Policy {
  return parsePolicy(JSON.stringify({ version: 1, runtime, sql }), {
    file: 'leash.policy.json',
    modules: registryWith(),
  });
}

const WEATHER = {
  app: { 'net.connect': ['api.example.com:443'], 'dns.lookup': ['api.example.com'] },
};

/** A notes service: two routes that call the same API, one that writes exports, two with none. */
const NOTES: Runtime = {
  '@startup': { app: { 'net.listen': ['127.0.0.1:3000'], 'fs.read': ['/srv/app/**'] } },
  '@loader': { app: { 'fs.read': ['/srv/app/node_modules/**'] } },
  '@pool': { pg: { 'net.connect': ['127.0.0.1:5432'] } },
  '@background': { app: { 'fs.write': ['/srv/data/tmp/*'] } },
  'GET /weather': WEATHER,
  'GET /forecast': WEATHER,
  'POST /export': { app: { 'fs.write': ['/srv/data/exports/*'] } },
};
const NOTES_SQL = {
  'GET /health': ['SELECT 1'],
  'GET /notes': { 'SELECT id FROM notes WHERE owner = $1': { $1: ['=principal'] } },
  'GET /forecast': { 'SELECT city FROM prefs WHERE owner = $1': { $1: ['=principal'] } },
};

test('the route scopes are those of the runtime and sql sections, without @ scopes', () => {
  assert.deepEqual(routeScopes(policy(NOTES, NOTES_SQL)), [
    'GET /forecast',
    'GET /health',
    'GET /notes',
    'GET /weather',
    'POST /export',
  ]);
});

test('routes with identical runtime grants share a group; sql is not part of the key', () => {
  const grouping = groupRoutes(policy(NOTES, NOTES_SQL));
  assert.deepEqual(grouping.groups, [
    {
      name: 'g1',
      routes: ['GET /forecast', 'GET /weather'],
      grants: ['app dns.lookup api.example.com', 'app net.connect api.example.com:443'],
    },
    { name: 'g2', routes: ['POST /export'], grants: ['app fs.write /srv/data/exports/*'] },
    { name: UNPRIVILEGED, routes: ['GET /health', 'GET /notes'], grants: [] },
  ]);
  assert.deepEqual(grouping.merged, []);
});

test('every route is in the groupOf map, routes without runtime grants in the unprivileged group', () => {
  const { groupOf } = groupRoutes(policy(NOTES, NOTES_SQL));
  assert.deepEqual(Object.fromEntries(groupOf), {
    'GET /forecast': 'g1',
    'GET /weather': 'g1',
    'POST /export': 'g2',
    'GET /health': UNPRIVILEGED,
    'GET /notes': UNPRIVILEGED,
  });
});

test('grants differing in one resource make two groups', () => {
  const grouping = groupRoutes(
    policy({
      'GET /a': { app: { 'fs.read': ['/srv/a.txt'] } },
      'GET /b': { app: { 'fs.read': ['/srv/b.txt'] } },
    }),
  );
  assert.deepEqual(
    grouping.groups.map((g) => [g.name, g.routes]),
    [
      ['g1', ['GET /a']],
      ['g2', ['GET /b']],
      [UNPRIVILEGED, []],
    ],
  );
});

test('a policy with only process scopes has the unprivileged group alone', () => {
  const grouping = groupRoutes(policy({ '@startup': NOTES['@startup']! }));
  assert.deepEqual(grouping.groups, [{ name: UNPRIVILEGED, routes: [], grants: [] }]);
});

/** Three privileged groups (a ⊂ b by one grant, c shares nothing) and d, a route of sql alone. */
function three(): Policy {
  return policy(
    {
      'GET /a': { app: { 'fs.read': ['/srv/x', '/srv/y'] } },
      'GET /b': { app: { 'fs.read': ['/srv/x', '/srv/y', '/srv/z'] } },
      'GET /c': { app: { 'fs.read': ['/srv/p', '/srv/q', '/srv/r'] } },
    },
    { 'GET /d': ['SELECT 1'] },
  );
}

test('over the cap, the pair whose union adds the fewest grants is merged and listed', () => {
  // A cap of 3 groups leaves 2 for privileged routes (the unprivileged group is one).
  const grouping = groupRoutes(three(), 3);
  assert.deepEqual(grouping.merged, ['GET /a + GET /b']);
  assert.deepEqual(grouping.groups, [
    {
      name: 'g1',
      routes: ['GET /a', 'GET /b'],
      grants: ['app fs.read /srv/x', 'app fs.read /srv/y', 'app fs.read /srv/z'],
    },
    {
      name: 'g2',
      routes: ['GET /c'],
      grants: ['app fs.read /srv/p', 'app fs.read /srv/q', 'app fs.read /srv/r'],
    },
    { name: UNPRIVILEGED, routes: ['GET /d'], grants: [] },
  ]);
  assert.equal(grouping.groupOf.get('GET /b'), 'g1');
});

test('merging goes on until the cap is met, and one privileged group always remains', () => {
  const two = groupRoutes(three(), 2);
  assert.deepEqual(two.merged, ['GET /a + GET /b', 'GET /a, GET /b + GET /c']);
  assert.deepEqual(
    two.groups.map((g) => [g.name, g.routes, g.grants.length]),
    [
      ['g1', ['GET /a', 'GET /b', 'GET /c'], 6],
      [UNPRIVILEGED, ['GET /d'], 0],
    ],
  );
  // A cap of 1 still leaves one privileged group beside the unprivileged one.
  assert.deepEqual(groupRoutes(three(), 1).groups.length, 2);
  assert.deepEqual(groupRoutes(three(), 8).merged, []);
});

test('routes listed together share one group holding the union of their grants', () => {
  const grouping = groupRoutes(policy(NOTES, NOTES_SQL), 8, [['GET /weather', 'POST /export']]);
  assert.deepEqual(grouping.groups, [
    {
      name: 'g1',
      routes: ['GET /forecast'],
      grants: ['app dns.lookup api.example.com', 'app net.connect api.example.com:443'],
    },
    {
      name: 'g2',
      routes: ['GET /weather', 'POST /export'],
      grants: [
        'app dns.lookup api.example.com',
        'app fs.write /srv/data/exports/*',
        'app net.connect api.example.com:443',
      ],
    },
    { name: UNPRIVILEGED, routes: ['GET /health', 'GET /notes'], grants: [] },
  ]);
});

test('a route without grants listed with privileged routes joins their group', () => {
  const grouping = groupRoutes(policy(NOTES, NOTES_SQL), 8, [['GET /notes', 'POST /export']]);
  assert.equal(grouping.groupOf.get('GET /notes'), grouping.groupOf.get('POST /export'));
  const group = grouping.groups.find((g) => g.routes.includes('GET /notes'))!;
  assert.notEqual(group.name, UNPRIVILEGED);
  assert.deepEqual(group.routes, ['GET /notes', 'POST /export']);
  assert.deepEqual(group.grants, ['app fs.write /srv/data/exports/*']);
  assert.deepEqual(grouping.groups.at(-1), {
    name: UNPRIVILEGED,
    routes: ['GET /health'],
    grants: [],
  });
});

test('lists sharing a route are joined; routes the policy lacks are ignored', () => {
  const grouping = groupRoutes(three(), 8, [
    ['GET /nowhere', 'GET /a'],
    ['GET /c', 'GET /nowhere', 'GET /d'],
    ['GET /d', 'GET /a'],
    ['GET /also-nowhere'],
  ]);
  assert.deepEqual(
    grouping.groups.map((g) => [g.name, g.routes]),
    [
      ['g1', ['GET /a', 'GET /c', 'GET /d']],
      ['g2', ['GET /b']],
      [UNPRIVILEGED, []],
    ],
  );
  assert.ok(!grouping.groupOf.has('GET /nowhere'));
});

test('lists joined through a later list make one group', () => {
  const grouping = groupRoutes(three(), 8, [
    ['GET /a', 'GET /d'],
    ['GET /b', 'GET /c'],
    ['GET /d', 'GET /c'],
  ]);
  assert.deepEqual(
    grouping.groups.map((g) => [g.name, g.routes, g.grants.length]),
    [
      ['g1', ['GET /a', 'GET /b', 'GET /c', 'GET /d'], 6],
      [UNPRIVILEGED, [], 0],
    ],
  );
});

test('routes listed together with no grants between them stay unprivileged', () => {
  const grouping = groupRoutes(policy(NOTES, NOTES_SQL), 8, [['GET /notes', 'GET /health']]);
  assert.equal(grouping.groupOf.get('GET /notes'), UNPRIVILEGED);
});

test('a group’s policy keeps the process scopes and its own routes, runtime section only', () => {
  const p = policy(NOTES, NOTES_SQL);
  const grouping = groupRoutes(p);
  const g1 = grouping.groups.find((g) => g.name === 'g1')!;
  const own = groupPolicy(p, g1);
  assert.deepEqual([...own.modules.keys()], ['runtime']);
  assert.deepEqual(
    rules(own.modules.get('runtime')!)
      .map((r) => r.join(' '))
      .sort(),
    [
      '@background app fs.write /srv/data/tmp/*',
      '@loader app fs.read /srv/app/node_modules/**',
      '@pool pg net.connect 127.0.0.1:5432',
      '@startup app fs.read /srv/app/**',
      '@startup app net.listen 127.0.0.1:3000',
      'GET /forecast app dns.lookup api.example.com',
      'GET /forecast app net.connect api.example.com:443',
      'GET /weather app dns.lookup api.example.com',
      'GET /weather app net.connect api.example.com:443',
    ],
  );
  const unprivileged = groupPolicy(p, grouping.groups.at(-1)!);
  assert.deepEqual(
    [...new Set(rules(unprivileged.modules.get('runtime')!).map((r) => r[0]))].sort(),
    ['@background', '@loader', '@pool', '@startup'],
  );
});

test('a group’s policy leaves out the rules its drop callback names', () => {
  const p = policy(NOTES, NOTES_SQL);
  const g2 = groupRoutes(p).groups.find((g) => g.name === 'g2')!;
  const asked: string[] = [];
  const own = groupPolicy(p, g2, (rule) => {
    asked.push(rule[0]!);
    return rule[2] === 'fs.write';
  });
  const kept = rules(own.modules.get('runtime')!).map((r) => r.join(' '));
  assert.ok(!kept.some((r) => r.includes('fs.write')), kept.join('\n'));
  assert.ok(kept.includes('@startup app net.listen 127.0.0.1:3000'));
  // drop is asked only about rules of the group's scopes.
  assert.ok(!asked.includes('GET /weather'));
  assert.ok(asked.includes('POST /export'));
});

test('a policy without a runtime section gives every group an empty policy', () => {
  const p = parsePolicy(JSON.stringify({ version: 1, sql: NOTES_SQL }), {
    file: 'leash.policy.json',
    modules: registryWith(),
  });
  const grouping = groupRoutes(p);
  assert.deepEqual(grouping.groups, [
    { name: UNPRIVILEGED, routes: ['GET /forecast', 'GET /health', 'GET /notes'], grants: [] },
  ]);
  assert.equal(groupPolicy(p, grouping.groups[0]!).modules.size, 0);
});

test('login routes run apart from every other route, never merged, with what together binds to them', () => {
  const p = policy(
    {
      'GET /a': { app: { 'fs.read': ['/srv/x'] } },
      'GET /b': { app: { 'fs.read': ['/srv/y'] } },
      'GET /c': { app: { 'fs.read': ['/srv/z'] } },
      'POST /login': { app: { 'fs.read': ['/srv/x'] } },
    },
    { 'POST /logout': ['SELECT 1'], 'GET /me': ['SELECT 1'], 'POST /session': ['SELECT 2'] },
  );
  const grouping = groupRoutes(
    p,
    3,
    [['POST /logout', 'POST /session']],
    ['POST /login', 'POST /logout'],
  );
  // A cap of 3: unprivileged, login, and one for the three privileged routes.
  assert.deepEqual(
    grouping.groups.map((g) => [g.name, g.routes]),
    [
      ['g1', ['GET /a', 'GET /b', 'GET /c']],
      [LOGIN, ['POST /login', 'POST /logout', 'POST /session']],
      [UNPRIVILEGED, ['GET /me']],
    ],
  );
  // GET /a holds the very grant POST /login holds, and still does not share its group.
  assert.notEqual(grouping.groupOf.get('GET /a'), grouping.groupOf.get('POST /login'));
  assert.deepEqual(grouping.groups[1]!.grants, ['app fs.read /srv/x']);
});

/** json-server's shape: steno's queue under @pool, the routes that ask it to write, one that reads. */
const JSON_SERVER: Runtime = {
  '@startup': { lowdb: { 'fs.read': ['/srv/app/data/db.json'] } },
  '@pool': { steno: { 'fs.write': ['/srv/app/data/.~db.json', '/srv/app/data/db.json'] } },
  'POST /posts': { pify: { 'fs.write': ['/srv/app/data/db.json'] } },
  'PATCH /notes/:id': { pify: { 'fs.write': ['/srv/app/data/*.json'] } },
  'GET /posts': { send: { 'fs.read': ['/srv/app/public/posts'] } },
};

/** The @pool rules of each group's policy, by group name. */
function poolRules(runtime: Runtime): Record<string, string[]> {
  const p = policy(runtime);
  return Object.fromEntries(
    groupRoutes(p).groups.map((g) => [
      g.routes.join(', ') || g.name,
      rules(groupPolicy(p, g).modules.get('runtime')!)
        .filter((r) => r[0] === '@pool')
        .map((r) => r.slice(1).join(' ')),
    ]),
  );
}

test('a write queue’s files are a group’s only when one of its routes asks to write the data file', () => {
  const queue = ['steno fs.write /srv/app/data/.~db.json', 'steno fs.write /srv/app/data/db.json'];
  assert.deepEqual(poolRules(JSON_SERVER), {
    'GET /posts': [],
    // A pattern the route was learned with asks for the data file too.
    'PATCH /notes/:id': queue,
    'POST /posts': queue,
    [UNPRIVILEGED]: [],
  });
  // An ask in a process scope (a fresh install writes its empty database at start-up) is in
  // every worker, and so is the queue.
  const fresh = {
    ...JSON_SERVER,
    '@startup': { lowdb: { 'fs.write': ['/srv/app/data/db.json'] } },
  };
  assert.deepEqual(Object.values(poolRules(fresh)), [queue, queue, queue, queue]);
  // A policy in which no rule asks (learned before the asks were): every worker, as before.
  const unasked = { ...JSON_SERVER, 'POST /posts': {}, 'PATCH /notes/:id': {} };
  assert.deepEqual(Object.values(poolRules(unasked)), [queue, queue]);
  // Another @pool package's rules are not a write queue's: every worker keeps them.
  const pg = { ...JSON_SERVER, '@pool': { pg: { 'net.connect': ['127.0.0.1:5432'] } } };
  assert.deepEqual(
    Object.values(poolRules(pg)).map((r) => r.length),
    [1, 1, 1, 1],
  );
});
