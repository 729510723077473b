// One csp conformance suite for every HTTP adapter (node:http, Express 5, Fastify 5), each service
// unchanged under the leash CLI: learn sends the deny-by-default policy as Report-Only to HTML
// only, a tagged report is learned under the page's route template, report and enforce send the
// learned policy, a service's own CSP is kept unless `csp.override`, and a templated nonce
// (`res.cspNonce`, `res.locals.cspNonce`, `reply.cspNonce`) is a fresh one in every response's
// policy, learning included (where nonced code is not hashed).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startUnder } from '../runtime/helpers.ts';

const ADAPTERS = [
  { name: 'node:http', fixture: 'csp-http-service.mjs' },
  { name: 'Express 5', fixture: 'csp-express-service.mjs' },
  { name: 'Fastify 5', fixture: 'csp-fastify-service.mjs' },
] as const;

// Never fetched: reports name it, and the learned policy must carry it.
const CDN = 'http://127.0.0.2:9999';
const OWN = "default-src 'self'";

interface Page {
  /** `Content-Security-Policy`, or null. */
  readonly enforced: string | null;
  /** `Content-Security-Policy-Report-Only`, or null. */
  readonly reportOnly: string | null;
  readonly body: string;
}

async function page(base: string, path: string): Promise<Page> {
  const response = await fetch(new URL(path, base));
  assert.equal(response.status, 200, path);
  return {
    enforced: response.headers.get('content-security-policy'),
    reportOnly: response.headers.get('content-security-policy-report-only'),
    body: await response.text(),
  };
}

/** A policy's directives, name → sources. */
function directives(policy: string | null): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of (policy ?? '').split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/);
    if (name) out.set(name, sources);
  }
  return out;
}

/** The nonce templated into the page, checked against the nonce in its policy. */
function nonceOf(nonced: Page, header: 'enforced' | 'reportOnly' = 'enforced'): string {
  const nonce = /<script nonce="([^"]*)">/.exec(nonced.body)?.[1] ?? '';
  assert.match(nonce, /^[A-Za-z0-9+/]{22}==$/, nonced.body);
  const policy = directives(nonced[header]);
  for (const directive of ['script-src', 'style-src'])
    assert.ok(
      policy.get(directive)?.includes(`'nonce-${nonce}'`),
      `${directive}: ${nonced[header]}`,
    );
  return nonce;
}

for (const adapter of ADAPTERS) {
  test(`${adapter.name}: csp headers in every mode, own CSP kept unless overridden, a nonce per response`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'leash-csp-adapter-'));
    const config = (csp: object) =>
      writeFileSync(join(dir, 'leash.config.json'), JSON.stringify({ csp }));
    const service = fileURLToPath(new URL(`./fixtures/${adapter.fixture}`, import.meta.url));
    const start = (mode: string) =>
      startUnder([mode, '--', process.execPath, service], { cwd: dir, env: { CDN_ORIGIN: CDN } });

    config({});
    const learning = await start('learn');
    try {
      const html = await page(learning.base, '/pages/1');
      assert.equal(html.enforced, null);
      const learnPolicy = directives(html.reportOnly);
      for (const directive of ['default-src', 'script-src', 'style-src', 'img-src', 'connect-src'])
        assert.deepEqual(learnPolicy.get(directive), ["'none'"], html.reportOnly ?? 'no header');
      const reportPath = learnPolicy.get('report-uri')?.[0] ?? '';
      assert.match(reportPath, /^\/__leash\/csp-report\?t=[\w.-]+$/, html.reportOnly ?? '');

      const json = await page(learning.base, '/api/data');
      assert.deepEqual([json.enforced, json.reportOnly], [null, null], 'no CSP on JSON');

      const own = await page(learning.base, '/own');
      assert.deepEqual([own.enforced, own.reportOnly], [OWN, null], 'the own CSP is left alone');

      // Learning hands out a nonce too: nonced code is neither reported nor hashed.
      const first = nonceOf(await page(learning.base, '/nonced'), 'reportOnly');
      assert.notEqual(nonceOf(await page(learning.base, '/nonced'), 'reportOnly'), first);

      const report = await fetch(new URL(reportPath, learning.base), {
        method: 'POST',
        headers: { 'content-type': 'application/csp-report' },
        body: JSON.stringify({
          'csp-report': {
            'document-uri': new URL('/pages/1', learning.base).href,
            'blocked-uri': `${CDN}/img/1.png`,
            'effective-directive': 'img-src',
            'violated-directive': "img-src 'none'",
            disposition: 'report',
          },
        }),
      });
      assert.equal(report.status, 204);
    } finally {
      await learning.stop();
    }
    const learned = JSON.parse(readFileSync(join(dir, 'leash.policy.json'), 'utf8')).csp ?? {};
    assert.deepEqual(learned['/pages/:id']?.['img-src'], [CDN], JSON.stringify(learned));
    assert.equal(learned['/pages/1'], undefined, 'learned under the route template');
    assert.equal(learned['/nonced'], undefined, 'the nonced script is not hashed');

    config({ override: true });
    const reporting = await start('report');
    try {
      const html = await page(reporting.base, '/pages/2');
      assert.equal(html.enforced, null);
      assert.deepEqual(directives(html.reportOnly).get('img-src'), [CDN], html.reportOnly ?? '');
      assert.doesNotMatch(html.reportOnly ?? '', /'nonce-/, 'a nonce only when the page read it');

      const own = await page(reporting.base, '/own');
      assert.equal(own.enforced, null, 'csp.override replaces the own CSP');
      assert.deepEqual(directives(own.reportOnly).get('default-src'), ["'none'"]);
      assert.ok(directives(own.reportOnly).has('report-uri'), own.reportOnly ?? '');
    } finally {
      await reporting.stop();
    }

    config({});
    const enforcing = await start('enforce');
    try {
      const html = await page(enforcing.base, '/pages/3');
      assert.equal(html.reportOnly, null);
      assert.deepEqual(directives(html.enforced).get('img-src'), [CDN], html.enforced ?? '');

      const json = await page(enforcing.base, '/api/data');
      assert.deepEqual([json.enforced, json.reportOnly], [null, null], 'no CSP on JSON');

      const own = await page(enforcing.base, '/own');
      assert.deepEqual([own.enforced, own.reportOnly], [OWN, null], 'the own CSP is left alone');

      const first = nonceOf(await page(enforcing.base, '/nonced'));
      const second = nonceOf(await page(enforcing.base, '/nonced'));
      assert.notEqual(first, second, 'a fresh nonce per response');
    } finally {
      await enforcing.stop();
    }
  });
}
