// A page sent compressed (gzip, br, deflate: what compression() sends every browser) still has its
// inline code hashed while learning, so enforcing does not block it.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startUnder } from '../runtime/helpers.ts';

const SERVICE = fileURLToPath(new URL('./fixtures/compressed-pages.mjs', import.meta.url));
const hash = (code: string) => `'sha256-${createHash('sha256').update(code).digest('base64')}'`;

test('inline scripts and styles of gzip, br and deflate pages are learned', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'leash-csp-compressed-'));
  writeFileSync(join(dir, 'leash.config.json'), JSON.stringify({ flushIntervalMs: 100 }));
  const service = await startUnder(['learn', '--', process.execPath, SERVICE], { cwd: dir });
  try {
    for (const name of ['gzip', 'br', 'deflate']) {
      const response = await fetch(new URL(`/${name}`, service.base));
      assert.match(await response.text(), new RegExp(`window\\.${name}Ran`));
      assert.equal(response.headers.get('content-encoding'), name);
    }
  } finally {
    await service.stop();
  }
  assert.doesNotMatch(service.stderr(), /csp-html-unreadable/);
  const csp = JSON.parse(readFileSync(join(dir, 'leash.policy.json'), 'utf8')).csp;
  for (const name of ['gzip', 'br', 'deflate']) {
    const route = csp[`/${name}`];
    assert.ok(route, `${name}: ${JSON.stringify(csp)}`);
    assert.ok(
      route['script-src'].includes(hash(`window.${name}Ran = true;`)),
      JSON.stringify(route),
    );
    assert.ok(route['style-src'].includes(hash('h1 { color: teal }')), JSON.stringify(route));
  }
});

test('a page written in pieces (strings, buffers splitting a character) is learned whole', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'leash-csp-pieces-'));
  writeFileSync(join(dir, 'leash.config.json'), JSON.stringify({ flushIntervalMs: 100 }));
  const service = await startUnder(['learn', '--', process.execPath, SERVICE], { cwd: dir });
  try {
    for (const name of ['text', 'pieces']) {
      const response = await fetch(new URL(`/${name}`, service.base));
      assert.match(await response.text(), new RegExp(`window\\.${name}Ran`));
    }
  } finally {
    await service.stop();
  }
  assert.doesNotMatch(service.stderr(), /csp-html-unreadable/);
  const csp = JSON.parse(readFileSync(join(dir, 'leash.policy.json'), 'utf8')).csp;
  const scripts = { text: 'window.textRan = true;', pieces: 'window.piecesRan = "é";' };
  for (const [name, script] of Object.entries(scripts)) {
    const route = csp[`/${name}`];
    assert.ok(route, `${name}: ${JSON.stringify(csp)}`);
    assert.ok(route['script-src'].includes(hash(script)), JSON.stringify(route));
    assert.ok(route['style-src'].includes(hash('h1 { color: teal }')), JSON.stringify(route));
  }
});
