// What a page's shared script and stylesheet load reaches the pages that include them, under a
// real `leash learn`, without a browser: the report a browser sends for the home page's fetch
// names the shared script as its source, the shared stylesheet is served compressed, and the other
// page's HTML, fetched by a test client, includes both. Chromium does the same in
// compressed-browser.test.ts.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startUnder } from '../runtime/helpers.ts';

const SHOP = fileURLToPath(new URL('./fixtures/compressed-shop/', import.meta.url));
const NODE_MODULES = fileURLToPath(new URL('../../node_modules/', import.meta.url));
const COMPRESSED = { 'accept-encoding': 'gzip, deflate, br' };

test('a page no browser visited learns what its shared script fetched and its shared stylesheet loads on another page', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'leash-csp-subresources-'));
  cpSync(SHOP, dir, { recursive: true });
  symlinkSync(NODE_MODULES, join(dir, 'node_modules'));
  writeFileSync(join(dir, 'leash.config.json'), JSON.stringify({ flushIntervalMs: 100 }));
  const service = await startUnder(['learn', '--', process.execPath, join(dir, 'shop.mjs')], {
    cwd: dir,
  });
  try {
    // The home page, as a browser got it, and the report of its script's fetch.
    const home = await fetch(new URL('/', service.base), { headers: COMPRESSED });
    await home.text();
    const policy = home.headers.get('content-security-policy-report-only') ?? '';
    const reportPath = /report-uri (\S+)/.exec(policy)?.[1];
    assert.ok(reportPath, policy);
    const report = await fetch(new URL(reportPath, service.base), {
      method: 'POST',
      headers: { 'content-type': 'application/csp-report' },
      body: JSON.stringify({
        'csp-report': {
          'document-uri': new URL('/', service.base).href,
          'blocked-uri': new URL('/api/items', service.base).href,
          'effective-directive': 'connect-src',
          'source-file': new URL('/static/app.js?v=2', service.base).href,
        },
      }),
    });
    assert.equal(report.status, 204);
    const sheet = await fetch(new URL('/static/site.css', service.base), { headers: COMPRESSED });
    assert.match(sheet.headers.get('content-encoding') ?? '', /^(br|gzip|deflate)$/);
    await sheet.text();
    // The other page, as a test client fetches it.
    await (await fetch(new URL('/about', service.base), { headers: COMPRESSED })).text();
  } finally {
    await service.stop();
  }
  // The learning run ends naming the page no browser reported on (not the home page, which had one).
  const unvisited = service
    .stderr()
    .split('\n')
    .find((line) => line.includes('"event":"csp-pages-unvisited"'));
  assert.ok(unvisited !== undefined, service.stderr());
  assert.deepEqual(JSON.parse(unvisited).pages, ['/about']);
  const csp = JSON.parse(readFileSync(join(dir, 'leash.policy.json'), 'utf8')).csp;
  const about = csp['/about'];
  assert.deepEqual(about['connect-src'], ["'self'"], JSON.stringify(csp));
  assert.deepEqual(about['font-src'], ["'self'"], JSON.stringify(csp));
  assert.ok(about['img-src'].includes("'self'"), JSON.stringify(csp));
  // The home page's HTML alone (no browser report of its stylesheet's loads) gets them too.
  assert.deepEqual(csp['/']['font-src'], ["'self'"], JSON.stringify(csp));
});
