// `res.locals.cspNonce` read the ways template engines read locals: directly, through an object
// made from the locals (`Object.create(res.locals)`, as engines layer their scopes) and from a
// copy of them (`{ ...res.locals }`): the same nonce each time, and the one in the policy.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startUnder } from '../runtime/helpers.ts';

const SERVICE = fileURLToPath(
  new URL('../adapters/fixtures/csp-express-service.mjs', import.meta.url),
);

test('the nonce of res.locals is the same read directly, through Object.create and from a copy', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'leash-csp-locals-'));
  const service = await startUnder(['learn', '--', process.execPath, SERVICE], {
    cwd: dir,
    env: { CDN_ORIGIN: 'http://127.0.0.2:9999' },
  });
  try {
    const seen = new Set<string>();
    for (let i = 0; i < 2; i++) {
      const response = await fetch(new URL('/nonced-layers', service.base));
      const body = await response.text();
      const policy = response.headers.get('content-security-policy-report-only') ?? '';
      const nonces = [...body.matchAll(/<script nonce="([^"]*)">/g)].map((m) => m[1]!);
      assert.equal(nonces.length, 3, body);
      assert.match(nonces[0]!, /^[A-Za-z0-9+/]{22}==$/, body);
      assert.deepEqual(new Set(nonces).size, 1, body);
      assert.ok(policy.includes(`'nonce-${nonces[0]}'`), policy);
      seen.add(nonces[0]!);
    }
    assert.equal(seen.size, 2, 'a fresh nonce per response');
  } finally {
    await service.stop();
  }
});
