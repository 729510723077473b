import assert from 'node:assert/strict';
import { test } from 'node:test';
import { registryWith } from '../modules/builtin.ts';
import { contractKey, expandKey, isUnsetVariable, localityOf } from './locality.ts';
import { parsePolicy, serializePolicy } from './policy-file.ts';

const here = localityOf({
  app: '/tmp/build/app',
  tmp: '/tmp',
  home: '/home/ann',
  env: { PORT: '8080', PGPORT: '5432', DATA_DIR: '/var/lib/shop' },
  envRoots: ['DATA_DIR'],
});

test('paths are written relative to the longest root, and read back with this machine’s', () => {
  const cases: Array<[string, string]> = [
    ['/tmp/build/app/**', '{app}/**'],
    ['/tmp/leash-x/upload-*.bin', '{tmp}/leash-x/upload-*.bin'],
    ['/home/ann/.npm/_logs/*-debug-0.log', '{home}/.npm/_logs/*-debug-0.log'],
    ['/var/lib/shop/uploads/*', '{env:DATA_DIR}/uploads/*'],
    [
      'tar -czf {path:/var/lib/shop/*.tgz} -C /tmp/build/app {arg}',
      'tar -czf {path:{env:DATA_DIR}/*.tgz} -C {app} {arg}',
    ],
    ['/tmpfoo/x', '/tmpfoo/x'],
    ['/var/tmp/x', '/var/tmp/x'],
  ];
  for (const [key, written] of cases) {
    assert.equal(contractKey(key, here, 'runtime'), written);
    assert.equal(expandKey(written, here), key);
  }
  const there = localityOf({
    app: '/srv/shop',
    tmp: '/tmp',
    home: '/home/bo',
    env: { DATA_DIR: '/data' },
    envRoots: ['DATA_DIR'],
  });
  assert.equal(expandKey('{app}/views/*.html', there), '/srv/shop/views/*.html');
  assert.equal(expandKey('{env:DATA_DIR}/uploads/*', there), '/data/uploads/*');
});

test('ports equal to a port variable are written {env:NAME}, in the runtime section only', () => {
  assert.equal(contractKey('0.0.0.0:8080', here, 'runtime'), '0.0.0.0:{env:PORT}');
  assert.equal(contractKey('127.0.0.1:5432', here, 'runtime'), '127.0.0.1:{env:PGPORT}');
  assert.equal(contractKey('127.0.0.1:9000', here, 'runtime'), '127.0.0.1:9000');
  assert.equal(contractKey('127.0.0.1:8080', here, 'sql'), '127.0.0.1:8080');
  const elsewhere = localityOf({ app: '/a', tmp: '/tmp', home: '/h', env: { PORT: '3000' } });
  assert.equal(expandKey('0.0.0.0:{env:PORT}', elsewhere), '0.0.0.0:3000');
});

test('a token whose variable is not set is an error naming it; escaped braces stay text', () => {
  const bare = localityOf({ app: '/a', tmp: '/tmp', home: '/h', env: {} });
  assert.throws(
    () => expandKey('0.0.0.0:{env:PORT}', bare),
    (error: unknown) => {
      return isUnsetVariable(error) && /PORT, which is not set/.test(error.message);
    },
  );
  assert.equal(expandKey('/a/\\{app}', bare), '/a/\\{app}');
});

test('reading a policy whose token has no value here names the file, position and variable', () => {
  const text = `${JSON.stringify(
    { version: 1, runtime: { '@startup': { app: { 'net.listen': ['127.0.0.1:{env:PORT}'] } } } },
    null,
    2,
  )}\n`;
  const bare = localityOf({ app: '/a', tmp: '/tmp', home: '/h', env: {} });
  assert.throws(
    () => parsePolicy(text, { file: 'leash.policy.json', modules: registryWith(), locality: bare }),
    /^LeashError: leash\.policy\.json:7:11: \$\.runtime\["@startup"\]\.app\["net\.listen"\]\[0\]: \{env:PORT\} needs the environment variable PORT, which is not set/,
  );
  const port = localityOf({ app: '/a', tmp: '/tmp', home: '/h', env: { PORT: '8080' } });
  const policy = parsePolicy(text, { file: 'p.json', modules: registryWith(), locality: port });
  assert.equal(serializePolicy(policy, port), text, 'read and written back unchanged');
});
