// Each framework and client target at the lowest and the highest version of its declared range
// (issue 10): a real service on that version, one `leash learn` then one `leash enforce`. The
// route template is learned (not the path), a value never seen while learning passes, and a
// refusal comes before the effect. Versions other than the main devDependency are installed
// under npm aliases (`express-lowest`) and laid out under their real names (test/support/aliases.ts).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ADAPTERS, type Adapter, fixturePath, template } from '../adapters/adapters.ts';
import { get, startUnder } from '../runtime/helpers.ts';
import { aliasedLayout, resolveIn } from '../support/aliases.ts';
import { readPolicyJson } from '../support/policy-json.ts';

const MODULES = fileURLToPath(new URL('../../node_modules/', import.meta.url));

/** What a service at one version loads: its `node_modules` and the fixture's entry variables. */
interface Installed {
  readonly modules: string;
  readonly env: NodeJS.ProcessEnv;
}

/** The repository's own install (the main devDependency, the range's highest). */
const MAIN: () => Installed = () => ({ modules: MODULES, env: {} });

/** A layout of aliased copies (see aliasedLayout), with the entries the fixture imports. */
function aliased(
  packages: ReadonlyArray<readonly [string, string]>,
  entries: Readonly<Record<string, string>>,
): () => Installed {
  return () => {
    const modules = aliasedLayout(packages);
    return {
      modules,
      env: Object.fromEntries(
        Object.entries(entries).map(([name, pkg]) => [name, resolveIn(modules, pkg)]),
      ),
    };
  };
}

function versionIn(modules: string, path: string): string {
  return (
    JSON.parse(readFileSync(join(modules, path, 'package.json'), 'utf8')) as { version: string }
  ).version;
}

interface FrameworkCase {
  /**
   * The instrumented packages and their versions, by where they are in the layout (a nested
   * dependency: `fastify/node_modules/find-my-way`).
   */
  readonly versions: Readonly<Record<string, string>>;
  readonly adapter: string;
  readonly installed: () => Installed;
}

const FRAMEWORKS: readonly FrameworkCase[] = [
  {
    versions: { express: '4.11.0' },
    adapter: 'Express 5',
    installed: aliased([['express', 'express-lowest']], { EXPRESS_ENTRY: 'express' }),
  },
  { versions: { express: '5.3.0' }, adapter: 'Express 5', installed: MAIN },
  {
    // Fastify 4.0.0 with the lowest find-my-way it accepts (^6.3.0), in place of the one npm
    // gave it.
    versions: { fastify: '4.0.0', 'fastify/node_modules/find-my-way': '6.3.0' },
    adapter: 'Fastify 5',
    installed: aliased(
      [
        ['fastify', 'fastify-lowest'],
        ['fastify/node_modules/find-my-way', 'find-my-way-lowest'],
      ],
      { FASTIFY_ENTRY: 'fastify' },
    ),
  },
  {
    versions: { fastify: '5.12.8', 'find-my-way': '9.10.2' },
    adapter: 'Fastify 5',
    installed: MAIN,
  },
  {
    versions: { 'koa-compose': '4.0.0' },
    adapter: 'Koa 3',
    installed: aliased(
      [
        ['koa', 'koa'],
        ['@koa/router', '@koa/router'],
        ['koa-compose', 'koa-compose-lowest'],
      ],
      { KOA_ENTRY: 'koa', KOA_ROUTER_ENTRY: '@koa/router' },
    ),
  },
  // 4.2.0 is the highest published 4.x, though deprecated (so npm gives koa 3 4.1.0).
  {
    versions: { 'koa-compose': '4.2.0' },
    adapter: 'Koa 3',
    installed: aliased(
      [
        ['koa', 'koa'],
        ['@koa/router', '@koa/router'],
        ['koa-compose', 'koa-compose-highest'],
      ],
      { KOA_ENTRY: 'koa', KOA_ROUTER_ENTRY: '@koa/router' },
    ),
  },
  {
    versions: { '@hapi/hapi': '21.0.0' },
    adapter: 'Hapi 21',
    installed: aliased([['@hapi/hapi', 'hapi-lowest']], { HAPI_ENTRY: '@hapi/hapi' }),
  },
  { versions: { '@hapi/hapi': '21.4.13' }, adapter: 'Hapi 21', installed: MAIN },
];

/** `fastify 4.0.0, find-my-way 6.3.0` */
function named(versions: Readonly<Record<string, string>>): string {
  return Object.entries(versions)
    .map(([path, version]) => `${path.split('node_modules/').pop()} ${version}`)
    .join(', ');
}

/** No target was left unpatched: out of range, or loaded before leash. */
function assertPatched(stderr: string): void {
  assert.doesNotMatch(stderr, /is not supported|was loaded before leash|does not cover/, stderr);
}

for (const framework of FRAMEWORKS) {
  test(`${named(framework.versions)}: the route template is learned, a new id passes, a traversal is refused`, async () => {
    const adapter = ADAPTERS.find((a) => a.name === framework.adapter) as Adapter;
    const installed = framework.installed();
    for (const [path, version] of Object.entries(framework.versions))
      assert.equal(versionIn(installed.modules, path), version, path);
    const dir = mkdtempSync(join(tmpdir(), 'leash-version-'));
    const dataDir = join(dir, 'data');
    mkdirSync(join(dataDir, 'assets'), { recursive: true });
    for (const name of ['1', '2', '3', '4', 'fallback.txt'])
      writeFileSync(join(dataDir, name), `note ${name}`);
    writeFileSync(join(dir, 'leash.config.json'), JSON.stringify({ dataDirs: ['./data'] }));
    const env = { DATA_DIR: dataDir, ...installed.env };
    const start = (mode: string[]) =>
      startUnder([...mode, '--', process.execPath, fixturePath(adapter)], { cwd: dir, env });

    const learning = await start(['learn']);
    try {
      for (const id of ['1', '2', '3'])
        assert.equal((await get(learning.base, `/notes/${id}`)).body, `note ${id}`);
    } finally {
      await learning.stop();
    }
    assertPatched(learning.stderr());
    const runtime = readPolicyJson(join(dir, 'leash.policy.json'), { app: dir }).runtime;
    assert.deepEqual(
      runtime[template(adapter, 'GET /notes/:id')]?.app?.['fs.read'],
      [`${dataDir}/*`],
      JSON.stringify(runtime, null, 2),
    );

    const enforcing = await start(['enforce', '--layer=process']);
    try {
      assert.equal((await get(enforcing.base, '/notes/4')).body, 'note 4');
      const refused = await get(
        enforcing.base,
        `/notes/${encodeURIComponent('../../../../etc/hostname')}`,
      );
      assert.match(refused.body, /ERR_LEASH_DENIED/);
    } finally {
      await enforcing.stop();
    }
    assertPatched(enforcing.stderr());
  });
}

const UNDICI: ReadonlyArray<{ version: string; installed: () => Installed }> = [
  {
    version: '6.0.0',
    installed: aliased([['undici', 'undici-lowest']], { UNDICI_ENTRY: 'undici' }),
  },
  { version: '8.14.1', installed: MAIN },
];

async function upstream(host: string, body: string) {
  let received = 0;
  const server = http.createServer((_request, response) => {
    received++;
    response.end(body);
  });
  server.listen(0, host);
  await once(server, 'listening');
  return {
    url: `http://${host}:${(server.address() as AddressInfo).port}/`,
    received: () => received,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

for (const version of UNDICI) {
  test(`undici ${version.version}: a request is decided in its route's scope, also over a socket another route warmed`, async () => {
    const installed = version.installed();
    assert.equal(versionIn(installed.modules, 'undici'), version.version);
    const service = fileURLToPath(
      new URL('../runtime/fixtures/undici-client-service.mjs', import.meta.url),
    );
    const partner = await upstream('127.0.0.1', 'partner');
    const target = await upstream('127.0.0.3', 'target');
    const dir = mkdtempSync(join(tmpdir(), 'leash-version-'));
    const env = { ...installed.env, WARM_URL: target.url };
    try {
      const learning = await startUnder(['learn', '--', process.execPath, service], {
        cwd: dir,
        env,
      });
      try {
        assert.equal((await get(learning.base, `/u?to=${partner.url}`)).body, 'partner');
        assert.equal((await get(learning.base, '/u-warm')).body, 'target');
      } finally {
        await learning.stop();
      }
      assertPatched(learning.stderr());
      const runtime = readPolicyJson(join(dir, 'leash.policy.json'), { app: dir }).runtime;
      assert.deepEqual(
        runtime['GET /u']?.undici?.['net.connect'],
        [new URL(partner.url).host],
        JSON.stringify(runtime),
      );
      const enforcing = await startUnder(
        ['enforce', '--layer=process', '--', process.execPath, service],
        { cwd: dir, env },
      );
      try {
        assert.equal((await get(enforcing.base, '/u-warm')).body, 'target');
        const warmed = target.received();
        assert.equal((await get(enforcing.base, `/u?to=${partner.url}`)).body, 'partner');
        assert.equal((await get(enforcing.base, `/u?to=${target.url}`)).body, 'ERR_LEASH_DENIED');
        assert.equal(target.received(), warmed, 'the refused request never reached the target');
      } finally {
        await enforcing.stop();
      }
      assertPatched(enforcing.stderr());
    } finally {
      partner.close();
      target.close();
    }
  });
}
