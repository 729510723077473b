// A page that no browser visited while learning (a test client fetched it) is not enforced as if
// it loaded nothing: what its own HTML loads (scripts, stylesheets, images) is learned from the
// HTML, as a browser's reports would teach it.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startUnder } from '../runtime/helpers.ts';

const SERVICE = fileURLToPath(new URL('./fixtures/pages-service.mjs', import.meta.url));
const CDN = 'http://127.0.0.2:9999';

test('a page fetched without a browser while learning: its scripts, styles and images are allowed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'leash-csp-html-'));
  writeFileSync(join(dir, 'leash.config.json'), JSON.stringify({ flushIntervalMs: 100 }));
  const env = { CDN_ORIGIN: CDN };
  const learning = await startUnder(['learn', '--', process.execPath, SERVICE], { cwd: dir, env });
  try {
    await (await fetch(new URL('/', learning.base))).text();
  } finally {
    await learning.stop();
  }
  const page = JSON.parse(readFileSync(join(dir, 'leash.policy.json'), 'utf8')).csp['/'];
  assert.ok(page['img-src'].includes("'self'"), JSON.stringify(page));
  assert.ok(page['img-src'].includes(CDN), JSON.stringify(page));
  assert.ok(page['style-src'].includes(CDN), JSON.stringify(page));
  assert.ok(page['script-src'].includes(`${CDN}/js/app.js`), JSON.stringify(page));

  const enforcing = await startUnder(['enforce', '--', process.execPath, SERVICE], {
    cwd: dir,
    env,
  });
  try {
    const response = await fetch(new URL('/', enforcing.base));
    await response.text();
    const header = response.headers.get('content-security-policy') ?? '';
    assert.match(header, /img-src [^;]*'self'/, header);
    assert.match(header, new RegExp(`script-src [^;]*${CDN.replace(/\./g, '\\.')}/js/app\\.js`));
  } finally {
    await enforcing.stop();
  }
});
