import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compilePolicy } from './header.ts';
import { createHeaderCache, NONCE_SLOT } from './header-cache.ts';
import { createTagger } from './tag.ts';

const TTL = 60;

function harness() {
  let clock = 67 * ((TTL * 1000) / 4); // the start of a bucket
  const calls = { sign: 0, compile: 0 };
  const tagger = createTagger('k'.repeat(32), TTL);
  const cache = createHeaderCache({
    ttlSeconds: TTL,
    reportPath: '/r',
    now: () => clock,
    sign: (route, at) => {
      calls.sign++;
      return tagger.sign(route, at);
    },
    endpoints: (url) => `g="${url}"`,
    compile: (_route, url, reportTo, nonce) => {
      calls.compile++;
      const sources = new Map([['script-src', new Set(["'sha256-abc'"])]]);
      return compilePolicy(sources, {
        reporting: { url, reportTo },
        ...(nonce !== undefined ? { nonce } : {}),
      });
    },
  });
  const tagOf = (policy: string) => /report-uri \/r\?t=([^;\s]+)/.exec(policy)![1]!;
  return { cache, calls, tagger, tagOf, tick: (ms: number) => (clock += ms), now: () => clock };
}

test('one compile and one signature per route and bucket; nonces are spliced per response', () => {
  const h = harness();
  const a = h.cache.headers('/page', false, 'NONCE1');
  const b = h.cache.headers('/page', false, 'NONCE2');
  assert.equal(h.calls.compile, 1);
  assert.equal(h.calls.sign, 1);
  assert.match(a.policy, /'nonce-NONCE1'/);
  assert.match(b.policy, /'nonce-NONCE2'/);
  assert.ok(!b.policy.includes('NONCE1') && !b.policy.includes(NONCE_SLOT));
  assert.equal(a.policy.replaceAll('NONCE1', 'NONCE2'), b.policy);
  // The nonce-less form and another route are their own entries.
  assert.doesNotMatch(h.cache.headers('/page', false, undefined).policy, /nonce-/);
  h.cache.headers('/other', false, 'N');
  assert.equal(h.calls.compile, 3);
});

test('the same header as compiling per response', () => {
  const h = harness();
  const cached = h.cache.headers('/page', true, 'XYZ');
  const tag = h.tagOf(cached.policy);
  const direct = compilePolicy(new Map([['script-src', new Set(["'sha256-abc'"])]]), {
    reporting: { url: `/r?t=${tag}`, reportTo: true },
    nonce: 'XYZ',
  });
  assert.equal(cached.policy, direct);
  assert.equal(cached.endpoints, `g="/r?t=${tag}"`);
});

test('every tag handed out stays valid for the whole TTL after the response, then is re-signed', () => {
  const h = harness();
  const bucket = (TTL * 1000) / 4;
  const seen = new Set<string>();
  for (let step = 0; step < 12; step++) {
    const tag = h.tagOf(h.cache.headers('/page', false, undefined).policy);
    seen.add(tag);
    assert.deepEqual(h.tagger.verify(tag, h.now() + TTL * 1000 - 1), { ok: true, route: '/page' });
    h.tick(bucket / 3);
  }
  // 12 steps of a third of a bucket: 4 buckets, so 4 signatures, not 12.
  assert.equal(h.calls.sign, 4);
  assert.equal(seen.size, 4);
});
