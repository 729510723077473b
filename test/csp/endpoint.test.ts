// The report endpoint inside a real service under `leash learn`: both report formats are learned
// under the route their tag names; reports without a valid tag, oversized and malformed bodies and
// a flood from one client are refused with their status, and the service keeps answering.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startUnder } from '../runtime/helpers.ts';

const SERVICE = fileURLToPath(new URL('./fixtures/pages-service.mjs', import.meta.url));
const CDN = 'http://127.0.0.2:9999';

const post = (url: string, type: string, body: string) =>
  fetch(url, { method: 'POST', headers: { 'content-type': type }, body });

test('report endpoint: both formats learned; bad tag, oversized, malformed and a flood refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'leash-csp-endpoint-'));
  writeFileSync(
    join(dir, 'leash.config.json'),
    JSON.stringify({ csp: { reportsPerMinute: 30, maxReportBytes: 4096 } }),
  );
  const service = await startUnder(['learn', '--', process.execPath, SERVICE], {
    cwd: dir,
    env: { CDN_ORIGIN: CDN },
  });
  try {
    const plain = await fetch(new URL('/hello', service.base));
    await plain.text();
    assert.equal(plain.headers.get('reporting-endpoints'), null, 'no report-to for an HTTP page');
    assert.doesNotMatch(
      plain.headers.get('content-security-policy-report-only') ?? '',
      /report-to/,
    );
    // Behind a TLS-terminating proxy the page reached the browser over HTTPS.
    const page = await fetch(new URL('/hello', service.base), {
      headers: { 'x-forwarded-proto': 'https' },
    });
    await page.text();
    const policy = page.headers.get('content-security-policy-report-only') ?? '';
    const reportPath = /report-uri (\S+);/.exec(policy)?.[1];
    assert.ok(reportPath?.startsWith('/__leash/csp-report?t='), policy);
    assert.equal(
      page.headers.get('reporting-endpoints'),
      `leash-csp="${reportPath}"`,
      'report-to names the same tagged URL',
    );
    const url = new URL(reportPath!, service.base).href;
    const documentUrl = new URL('/hello', service.base).href;

    const legacy = await post(
      url,
      'application/csp-report',
      JSON.stringify({
        'csp-report': {
          'document-uri': documentUrl,
          'blocked-uri': `${CDN}/img/a.png`,
          'effective-directive': 'img-src',
          'violated-directive': "img-src 'none'",
          disposition: 'report',
        },
      }),
    );
    assert.equal(legacy.status, 204);
    const modern = await post(
      url,
      'application/reports+json',
      JSON.stringify([
        {
          type: 'csp-violation',
          url: documentUrl,
          body: {
            documentURL: documentUrl,
            blockedURL: `${CDN}/js/app.js`,
            effectiveDirective: 'script-src-elem',
            disposition: 'report',
          },
        },
      ]),
    );
    assert.equal(modern.status, 204);

    const valid = JSON.stringify({
      'csp-report': {
        'document-uri': documentUrl,
        'blocked-uri': 'http://evil.test/x.js',
        'effective-directive': 'script-src-elem',
      },
    });
    const base = new URL('/__leash/csp-report', service.base).href;
    const tag = new URL(url).searchParams.get('t')!;
    const forged = `${tag.split('.')[0]}.${Buffer.from('/admin').toString('base64url')}.${tag.split('.')[2]}`;
    assert.equal((await post(base, 'application/csp-report', valid)).status, 403, 'no tag');
    assert.equal(
      (await post(`${base}?t=${forged}`, 'application/csp-report', valid)).status,
      403,
      'a tag whose route was changed',
    );
    assert.equal(
      (await post(url, 'application/csp-report', 'x'.repeat(10_000))).status,
      413,
      'oversized',
    );
    assert.equal((await post(url, 'application/csp-report', '{"csp-report": ')).status, 400);
    assert.equal((await post(url, 'application/reports+json', '{"a": 1}')).status, 400);
    assert.equal((await post(url, 'text/plain', valid)).status, 415);
    assert.equal((await fetch(url)).status, 405);

    // A flood from one client: refused once over the limit, while the service keeps answering.
    const statuses = await Promise.all(
      Array.from({ length: 40 }, () =>
        post(url, 'application/csp-report', '{').then((r) => r.status),
      ),
    );
    assert.ok(statuses.includes(429), statuses.join(' '));
    const ping = await fetch(new URL('/api/ping', service.base));
    assert.deepEqual(await ping.json(), { ok: true });
  } finally {
    await service.stop();
  }
  const csp = JSON.parse(readFileSync(join(dir, 'leash.policy.json'), 'utf8')).csp;
  assert.deepEqual(csp['/hello']['img-src'], [CDN]);
  assert.ok(csp['/hello']['script-src'].includes(`${CDN}/js/app.js`), JSON.stringify(csp));
  assert.equal(JSON.stringify(csp).includes('evil.test'), false, 'refused reports are not learned');
  assert.equal(csp['/admin'], undefined);
});
