// Unit tests of the csp module's parts: tags, report validation, report → facts, inline hashes,
// the header compiler and the HTTPS test that decides report-to.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, statSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { add, createTree } from '../../core/tree.ts';
import { isLeashError } from '../../errors.ts';
import { violationFacts } from './facts.ts';
import { compilePolicy, exportPolicies, learningPolicy, sourcesOf } from './header.ts';
import { cssReferences, inlineHashes, referencedUrls, sha256Source } from './inline.ts';
import { cspModule } from './module.ts';
import { parseReports } from './report.ts';
import { createTagger, KEY_FILE, loadKey } from './tag.ts';
import { servedOverHttps } from './transport.ts';

const KEY = 'k'.repeat(32);

test('tags: a signed route verifies; a forged, altered or expired tag does not', () => {
  const tagger = createTagger(KEY, 60);
  const tag = tagger.sign('/notes/:id', 1_000_000);
  assert.deepEqual(tagger.verify(tag, 1_000_000), { ok: true, route: '/notes/:id' });
  const [expiry, , mac] = tag.split('.');
  const other = `${expiry}.${Buffer.from('/admin').toString('base64url')}.${mac}`;
  assert.equal(tagger.verify(other, 1_000_000).ok, false);
  assert.equal(createTagger('x'.repeat(32), 60).verify(tag, 1_000_000).ok, false);
  assert.deepEqual(tagger.verify(tag, 1_000_000 + 61_000), { ok: false, reason: 'expired' });
  assert.equal(tagger.verify('garbage', 0).ok, false);
});

test('tags: the key file is made next to the policy with mode 0600 and reused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leash-csp-key-'));
  const policy = join(dir, 'leash.policy.json');
  const first = loadKey(policy, undefined);
  assert.equal(statSync(join(dir, KEY_FILE)).mode & 0o777, 0o600);
  assert.deepEqual(loadKey(policy, undefined), first);
  assert.deepEqual(loadKey(policy, KEY), Buffer.from(KEY));
});

test('reports: both formats validate to violations; malformed ones are ERR_LEASH_CSP_REPORT', () => {
  const legacy = parseReports(
    JSON.stringify({
      'csp-report': {
        'document-uri': 'http://127.0.0.1:8080/page',
        'blocked-uri': 'http://127.0.0.2:9000/a.png',
        'effective-directive': 'img-src',
        'violated-directive': 'img-src',
        disposition: 'report',
      },
    }),
    'csp-report',
  );
  assert.deepEqual(legacy, [
    {
      documentUrl: 'http://127.0.0.1:8080/page',
      blockedUrl: 'http://127.0.0.2:9000/a.png',
      directive: 'img-src',
      disposition: 'report',
    },
  ]);
  const modern = parseReports(
    JSON.stringify([
      { type: 'deprecation', body: {} },
      {
        type: 'csp-violation',
        body: {
          documentURL: 'http://127.0.0.1:8080/page',
          blockedURL: 'eval',
          effectiveDirective: 'script-src',
          disposition: 'enforce',
        },
      },
    ]),
    'reports+json',
  );
  assert.equal(modern.length, 1);
  assert.equal(modern[0]!.blockedUrl, 'eval');
  for (const [body, format] of [
    ['{', 'csp-report'],
    ['{"csp-report": {"blocked-uri": 1}}', 'csp-report'],
    ['{"not": "an array"}', 'reports+json'],
    ['[{"type": "csp-violation", "body": {"documentURL": 5}}]', 'reports+json'],
    [JSON.stringify(Array.from({ length: 101 }, () => ({ type: 'x', body: {} }))), 'reports+json'],
  ] as const) {
    assert.throws(
      () => parseReports(body, format),
      (e) => isLeashError(e, 'ERR_LEASH_CSP_REPORT'),
      body.slice(0, 40),
    );
  }
});

test('reports: the script a load came from is kept, in both formats, when the browser names one', () => {
  const [legacy] = parseReports(
    JSON.stringify({
      'csp-report': {
        'document-uri': 'http://127.0.0.1:8080/',
        'blocked-uri': 'http://127.0.0.1:8080/api/items',
        'effective-directive': 'connect-src',
        'source-file': 'http://127.0.0.1:8080/static/app.js',
      },
    }),
    'csp-report',
  );
  assert.equal(legacy!.sourceFile, 'http://127.0.0.1:8080/static/app.js');
  const modern = parseReports(
    JSON.stringify([
      {
        type: 'csp-violation',
        body: {
          documentURL: 'http://127.0.0.1:8080/',
          blockedURL: 'http://127.0.0.1:8080/api/items',
          effectiveDirective: 'connect-src',
          sourceFile: 'http://127.0.0.1:8080/static/app.js',
        },
      },
      {
        type: 'csp-violation',
        body: { documentURL: 'http://h/', effectiveDirective: 'img-src', sourceFile: null },
      },
    ]),
    'reports+json',
  );
  assert.equal(modern[0]!.sourceFile, 'http://127.0.0.1:8080/static/app.js');
  assert.equal('sourceFile' in modern[1]!, false);
  assert.throws(
    () =>
      parseReports(
        JSON.stringify({
          'csp-report': {
            'document-uri': 'http://h/',
            'effective-directive': 'img-src',
            'source-file': 'x'.repeat(5000),
          },
        }),
        'csp-report',
      ),
    (e) => isLeashError(e, 'ERR_LEASH_CSP_REPORT'),
  );
});

test('stylesheets: @import, @font-face url()s and every other url() by their directive', () => {
  const css = `/* url(/commented.png) */
@import url("/css/base.css");
@import 'theme.css' screen;
@font-face { font-family: shop; src: url(/font/shop.woff2) format("woff2"), url('/font/shop.woff'); }
.banner { background: url( "/img/dot.svg" ) no-repeat; }
.mask { mask: url(#clip); cursor: url(/img/hand.cur), auto; }
.dot { background-image: url(data:image/png;base64,AAAA); }`;
  assert.deepEqual(cssReferences(css), [
    { directive: 'style-src', url: '/css/base.css' },
    { directive: 'style-src', url: 'theme.css' },
    { directive: 'font-src', url: '/font/shop.woff2' },
    { directive: 'font-src', url: '/font/shop.woff' },
    { directive: 'img-src', url: '/img/dot.svg' },
    { directive: 'img-src', url: '/img/hand.cur' },
    { directive: 'img-src', url: 'data:image/png;base64,AAAA' },
  ]);
  // The page's own inline styles load too.
  const html = `<style>body { background: url(/img/bg.png) }</style>
<p style="background-image: url('/img/p.png')">x</p>`;
  assert.deepEqual(
    referencedUrls(html)
      .map((r) => `${r.directive} ${r.url}`)
      .sort(),
    ['img-src /img/bg.png', 'img-src /img/p.png'],
  );
});

test('report → facts: self, origins for images, paths for scripts, schemes and eval only when seen', () => {
  const v = (blockedUrl: string, directive: string) =>
    violationFacts({
      documentUrl: 'http://127.0.0.1:8080/page?x=1',
      blockedUrl,
      directive,
      disposition: 'report',
    });
  assert.deepEqual(v('http://127.0.0.1:8080/logo.png', 'img-src'), ['img-src', "'self'"]);
  assert.deepEqual(v('http://127.0.0.2:9000/img/a.png?v=2', 'img-src'), [
    'img-src',
    'http://127.0.0.2:9000',
  ]);
  assert.deepEqual(v('http://127.0.0.2:9000/font/x.woff2', 'font-src'), [
    'font-src',
    'http://127.0.0.2:9000',
  ]);
  assert.deepEqual(v('http://127.0.0.2:9000/js/app.js?v=1', 'script-src-elem'), [
    'script-src',
    'http://127.0.0.2:9000/js/app.js',
  ]);
  assert.deepEqual(
    violationFacts(
      {
        documentUrl: 'http://127.0.0.1:8080/page',
        blockedUrl: 'http://127.0.0.2:9000/js/app.js',
        directive: 'script-src-elem',
        disposition: 'report',
      },
      { scriptSources: 'origin' },
    ),
    ['script-src', 'http://127.0.0.2:9000'],
  );
  assert.deepEqual(v('data', 'img-src'), ['img-src', 'data:']);
  assert.deepEqual(v('blob:http://127.0.0.1:8080/uuid', 'worker-src'), ['worker-src', 'blob:']);
  assert.deepEqual(v('eval', 'script-src'), ['script-src', "'unsafe-eval'"]);
  assert.equal(v('inline', 'script-src-elem'), undefined);
  assert.equal(v('http://x.test/a', 'not-a-directive'), undefined);
  assert.equal(v('javascript:alert(1)', 'script-src'), undefined);
});

test('inline hashes: scripts, styles, handlers and style attributes, as the browser hashes them', () => {
  const html = `<!doctype html><html><head><style>body { color: red }</style>
<script>window.ok = 1;</script><script src="/x.js"></script><script type="application/json">{}</script>
</head><body><button onclick="go(&quot;a&quot;)" style="color: blue">x</button>
<template><script>window.inTemplate = 1</script></template></body></html>`;
  const found = inlineHashes(html);
  const h = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
  assert.deepEqual(found.styles, [h('body { color: red }')]);
  assert.deepEqual(
    new Set(found.scripts),
    new Set([h('window.ok = 1;'), h('window.inTemplate = 1')]),
  );
  assert.deepEqual(found.handlers, [h('go("a")')]);
  assert.deepEqual(found.styleAttributes, [h('color: blue')]);
  assert.equal(sha256Source(''), "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='");
  // Code carrying the response's nonce is left to the nonce; another nonce is not the service's.
  const nonced = inlineHashes(
    `<script nonce="N1">window.t = ${Date.now()}</script><style nonce="N1">p {}</style>
<script nonce="forged">window.x = 1</script>`,
    'N1',
  );
  assert.deepEqual(nonced.scripts, [h('window.x = 1')]);
  assert.deepEqual(nonced.styles, []);
});

test('header: deny-by-default while learning; the learned policy per route with hashes and strict-dynamic', () => {
  const learning = learningPolicy({ url: '/__leash/csp-report?t=T' });
  for (const d of [
    'default-src',
    'script-src',
    'img-src',
    'base-uri',
    'form-action',
    'frame-ancestors',
  ])
    assert.match(learning, new RegExp(`(^|; )${d} 'none'`));
  assert.match(learning, /report-uri \/__leash\/csp-report\?t=T; report-to leash-csp$/);
  const nonced = learningPolicy({ url: '/r', reportTo: false }, 'N1');
  assert.match(nonced, /script-src 'nonce-N1'; style-src 'nonce-N1'; img-src 'none'/);

  const tree = createTree(cspModule.root);
  const hash = sha256Source('window.ok = 1;');
  add(tree, ['/page', 'img-src', 'http://127.0.0.2:9000']);
  add(tree, ['/page', 'img-src', "'self'"]);
  add(tree, ['/page', 'script-src', hash]);
  add(tree, ['/other', 'script-src', 'http://127.0.0.2:9000/js/app.js']);
  add(tree, ['/other', 'script-src', hash]);
  const page = compilePolicy(sourcesOf(tree, '/page'), { nonce: 'abc' });
  assert.match(page, /img-src 'self' http:\/\/127\.0\.0\.2:9000;/);
  assert.match(page, new RegExp(`script-src '[^;]*${hash.slice(1, 20).replace(/[+/]/g, '\\$&')}`));
  assert.match(page, /script-src [^;]*'nonce-abc'/);
  assert.match(page, /script-src [^;]*'strict-dynamic'/);
  assert.match(page, /style-src 'nonce-abc'/);
  // font-src says what default-src says: left out, the browser falls back to default-src.
  assert.match(page, /^default-src 'none'; /);
  assert.doesNotMatch(page, /font-src/);
  assert.doesNotMatch(page, /unsafe-inline|report-uri/);
  const other = compilePolicy(sourcesOf(tree, '/other'));
  assert.doesNotMatch(other, /strict-dynamic/, 'host sources keep strict-dynamic out');
  assert.deepEqual(
    exportPolicies(tree).map((p) => p.route),
    ['/other', '/page'],
  );
  assert.match(exportPolicies(tree)[1]!.header, /^Content-Security-Policy: default-src 'none'; /);
});

test('transport: HTTPS from a TLS socket or the first proxy hop; HTTP otherwise', () => {
  const request = (headers: Record<string, string>, encrypted?: boolean) =>
    ({ headers, socket: encrypted === undefined ? {} : { encrypted } }) as IncomingMessage;
  assert.equal(servedOverHttps(request({}, true)), true);
  assert.equal(servedOverHttps(request({})), false);
  assert.equal(servedOverHttps(request({ 'x-forwarded-proto': 'https' })), true);
  assert.equal(servedOverHttps(request({ 'x-forwarded-proto': 'HTTPS, http' })), true);
  assert.equal(servedOverHttps(request({ 'x-forwarded-proto': 'http, https' })), false);
  assert.equal(servedOverHttps(request({ forwarded: 'for=1.2.3.4;proto=https;by=x' })), true);
  assert.equal(servedOverHttps(request({ forwarded: 'proto=http, proto=https' })), false);
  assert.equal(servedOverHttps(request({ forwarded: 'for="[::1]";proto="https"' })), true);
});

test('compilePolicy leaves out a fetch directive only where the browser falls back to the same sources', () => {
  const nonced = compilePolicy(new Map(), { nonce: 'N' });
  // child-src equals default-src and goes; worker-src would then fall back to script-src (which
  // allows the nonce), so its 'none' stays. frame-src falls back to default-src through child-src.
  assert.equal(
    nonced,
    "default-src 'none'; script-src 'nonce-N' 'strict-dynamic'; style-src 'nonce-N'; worker-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  );
  const plain = compilePolicy(new Map([['img-src', new Set(["'self'"])]]));
  assert.equal(
    plain,
    "default-src 'none'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  );
  const framed = compilePolicy(
    new Map([
      ['default-src', new Set(["'self'"])],
      ['child-src', new Set(['https://a.example'])],
    ]),
  );
  // Every directive not learned is 'none', unlike default-src: each is sent; frame-src and
  // worker-src too ('none' is not what child-src says).
  assert.match(framed, /frame-src 'none'/);
  assert.match(framed, /worker-src 'none'/);
  assert.match(framed, /img-src 'none'/);
});
