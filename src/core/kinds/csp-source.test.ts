import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fc } from '../../../test/support/fast-check.ts';
import { DEFAULT_SIMPLIFY_OPTIONS, type SimplifyOptions } from '../kind.ts';
import { add, allows, createTree, rules, simplify } from '../tree.ts';
import { CSP_KEYWORDS, cspSourceKind } from './csp-source.ts';
import { literalKind } from './literal.ts';

const kind = cspSourceKind();
const options: SimplifyOptions = DEFAULT_SIMPLIFY_OPTIONS;
const SHA256 = `'sha256-${'A'.repeat(43)}='`;

function collapse(keys: string[], opts: SimplifyOptions = options) {
  const groups = kind.collapse([...keys].sort(), opts);
  for (const g of groups)
    for (const m of g.members) assert.equal(kind.covers(g.pattern, m), true, `${g.pattern} ⊇ ${m}`);
  return groups;
}

describe('csp-source kind: keys', () => {
  it('keys keywords, hashes and schemes as themselves', () => {
    for (const k of [
      ...CSP_KEYWORDS,
      SHA256,
      `'sha384-${'b'.repeat(64)}'`,
      `'sha512-${'c'.repeat(86)}=='`,
      'data:',
      'blob:',
      'https:',
    ]) {
      assert.equal(kind.key(k), k, k);
      assert.equal(kind.validate(k), undefined, k);
    }
    assert.equal(kind.key("'SELF'"), "'self'");
    assert.equal(kind.key('DATA:'), 'data:');
  });

  it('keys a URL by its origin and path, without query, fragment or default port', () => {
    assert.equal(
      kind.key('https://cdn.example.com/js/app.js?v=3#x'),
      'https://cdn.example.com/js/app.js',
    );
    assert.equal(kind.key('HTTPS://CDN.Example.com:443/A/b.js'), 'https://cdn.example.com/A/b.js');
    assert.equal(kind.key('https://cdn.example.com:8443/x'), 'https://cdn.example.com:8443/x');
    assert.equal(kind.key('https://cdn.example.com'), 'https://cdn.example.com');
    assert.equal(kind.key('https://cdn.example.com/'), 'https://cdn.example.com');
    assert.equal(kind.key('https://cdn.example.com/a;b,c'), 'https://cdn.example.com/a%3Bb%2Cc');
    assert.equal(kind.key('http://127.0.0.1:8080/x.js'), 'http://127.0.0.1:8080/x.js');
  });

  it('keys data: and blob: URLs by their scheme', () => {
    assert.equal(kind.key('data:image/png;base64,AAAA'), 'data:');
    assert.equal(kind.key('blob:https://app.example.com/0f6c-11'), 'blob:');
  });

  it('a URL with an exact path is not a pattern; an origin or a path ending in / is (CSP cannot say less)', () => {
    assert.equal(kind.isPattern(kind.key('https://cdn.example.com/js/app.js')), false);
    assert.equal(kind.isPattern(kind.key('https://cdn.example.com')), true);
    assert.equal(kind.isPattern(kind.key('https://cdn.example.com/js/')), true);
  });

  it('escapes facts outside the grammar, so they never become wildcards', () => {
    for (const fact of [
      'https://*.example.com/x.js',
      '*',
      "'nonce-abc'",
      "'unsafe-inlin'",
      'https://[::1]/x',
      'inline',
      'https://a_b.example.com/x',
      '',
    ]) {
      const key = kind.key(fact);
      assert.equal(key, `\\${fact}`, fact);
      assert.equal(kind.isPattern(key), false, fact);
      assert.equal(kind.validate(key), undefined, fact);
      assert.equal(kind.matches(key, fact), true, fact);
      assert.equal(kind.matches(key, 'https://a.example.com/x.js'), false, fact);
    }
    assert.equal(kind.matches('https://*.example.com', 'https://*.example.com/x.js'), false);
    assert.equal(kind.matches('*', '*'), false);
  });
});

describe('csp-source kind: matches', () => {
  it('keywords and hashes match only themselves', () => {
    assert.equal(kind.matches("'self'", "'self'"), true);
    assert.equal(kind.matches("'self'", "'none'"), false);
    assert.equal(kind.matches(SHA256, SHA256), true);
    assert.equal(kind.matches('*', "'unsafe-inline'"), false);
    assert.equal(kind.matches('https:', "'self'"), false);
  });

  it('* allows http and https URLs only', () => {
    assert.equal(kind.matches('*', 'https://x.example.com/a.js'), true);
    assert.equal(kind.matches('*', 'http://x.example.com/a.js'), true);
    assert.equal(kind.matches('*', 'data:'), false);
    assert.equal(kind.matches('*', 'blob:https://x/y'), false);
    assert.equal(kind.matches('*', 'wss://x.example.com'), false);
  });

  it('a scheme allows URLs of that scheme, strictly', () => {
    assert.equal(kind.matches('https:', 'https://a.example.com/x'), true);
    assert.equal(kind.matches('http:', 'https://a.example.com/x'), false);
    assert.equal(kind.matches('data:', 'data:image/png;base64,AAAA'), true);
    assert.equal(kind.matches('data:', 'data:'), true);
  });

  it('host sources: host, port, path', () => {
    const origin = 'https://cdn.example.com';
    assert.equal(kind.matches(origin, 'https://cdn.example.com/any/path.js'), true);
    assert.equal(kind.matches(origin, 'https://cdn.example.com:443/x'), true);
    assert.equal(kind.matches(origin, 'https://cdn.example.com:8443/x'), false);
    assert.equal(kind.matches(origin, 'http://cdn.example.com/x'), false);
    assert.equal(kind.matches(origin, 'https://evil.example.com/x'), false);
    assert.equal(kind.matches(origin, 'https://cdn.example.com.evil.com/x'), false);
    assert.equal(
      kind.matches('https://cdn.example.com:8443', 'https://cdn.example.com:8443/x'),
      true,
    );
    assert.equal(kind.matches('https://cdn.example.com:*', 'https://cdn.example.com:8443/x'), true);
    assert.equal(
      kind.matches('https://cdn.example.com/js/', 'https://cdn.example.com/js/a/b.js'),
      true,
    );
    assert.equal(
      kind.matches('https://cdn.example.com/js/', 'https://cdn.example.com/jsx/a.js'),
      false,
    );
    assert.equal(kind.matches('https://cdn.example.com/js/', 'https://cdn.example.com'), false);
    assert.equal(
      kind.matches('https://cdn.example.com/js/app.js', 'https://cdn.example.com/js/app.js?v=2'),
      true,
    );
    assert.equal(
      kind.matches('https://cdn.example.com/js/app.js', 'https://cdn.example.com/js/app.jsx'),
      false,
    );
  });

  it('a wildcard host matches one or more labels, as CSP does', () => {
    const key = 'https://*.example.com';
    assert.equal(kind.matches(key, 'https://a.example.com/x'), true);
    assert.equal(kind.matches(key, 'https://a.b.example.com/x'), true);
    assert.equal(kind.matches(key, 'https://example.com/x'), false);
    assert.equal(kind.matches(key, 'https://aexample.com/x'), false);
    assert.equal(kind.matches('https://*', 'https://anything.org/x'), true);
  });
});

describe('csp-source kind: covers', () => {
  it('is reflexive', () => {
    for (const key of [
      "'self'",
      SHA256,
      '*',
      'https:',
      'https://*.example.com',
      'https://a.example.com/js/',
      '\\x',
    ]) {
      assert.equal(kind.covers(key, key), true, key);
    }
  });

  it('relates sources', () => {
    assert.equal(kind.covers('*', 'https:'), true);
    assert.equal(kind.covers('*', 'https://a.example.com'), true);
    assert.equal(kind.covers('*', 'data:'), false);
    assert.equal(kind.covers('*', "'self'"), false);
    assert.equal(kind.covers('https:', 'https://*.example.com'), true);
    assert.equal(kind.covers('https:', '*'), false);
    assert.equal(kind.covers('https://*.example.com', 'https://*.cdn.example.com'), true);
    assert.equal(kind.covers('https://*.cdn.example.com', 'https://*.example.com'), false);
    assert.equal(kind.covers('https://*.example.com', 'https://a.example.com/js/x.js'), true);
    assert.equal(kind.covers('https://*.example.com', 'https://a.example.com:8443'), false);
    assert.equal(kind.covers('https://a.example.com', 'https://a.example.com/js/'), true);
    assert.equal(kind.covers('https://a.example.com/js/', 'https://a.example.com/js/lib/'), true);
    assert.equal(kind.covers('https://a.example.com/js/', 'https://a.example.com'), false);
    assert.equal(kind.covers('https://a.example.com/js/x.js', 'https://a.example.com/js/'), false);
    assert.equal(kind.covers('https://a.example.com:*', 'https://a.example.com:8443/x'), true);
    assert.equal(kind.covers('https://a.example.com', 'https://a.example.com:*'), false);
    assert.equal(kind.covers("'self'", 'https://a.example.com'), false);
  });
});

describe('csp-source kind: collapse', () => {
  it('paths on one origin become their deepest common directory', () => {
    const keys = [
      'https://cdn.example.org/js/a.js',
      'https://cdn.example.org/js/b.js',
      'https://cdn.example.org/js/lib/c.js',
    ];
    assert.deepEqual(collapse(keys), [{ pattern: 'https://cdn.example.org/js/', members: keys }]);
  });

  it('gathers the directory with enough paths and leaves the rest', () => {
    const keys = [
      'https://cdn.example.org/js/a.js',
      'https://cdn.example.org/js/b.js',
      'https://cdn.example.org/js/c.js',
      'https://cdn.example.org/img/x.png',
    ];
    assert.deepEqual(collapse(keys), [
      { pattern: 'https://cdn.example.org/js/', members: keys.slice(0, 3) },
    ]);
  });

  it('paths with only / in common become the bare origin', () => {
    const keys = [
      'https://cdn.example.org/a.js',
      'https://cdn.example.org/img/x.png',
      'https://cdn.example.org/js/b.js',
    ];
    assert.deepEqual(collapse(keys), [{ pattern: 'https://cdn.example.org', members: keys }]);
  });

  it('paths of different origins or ports do not mix', () => {
    assert.deepEqual(
      collapse([
        'https://a.example.org/x.js',
        'https://b.example.org/y.js',
        'https://a.example.org:8443/z.js',
      ]),
      [],
    );
    assert.deepEqual(collapse(['https://a.example.org/x.js', 'https://a.example.org/y.js']), []);
  });

  it('hosts below one registrable domain become *.parent', () => {
    const keys = [
      'https://a.cdn.example.com',
      'https://b.cdn.example.com',
      'https://c.cdn.example.com',
    ];
    assert.deepEqual(collapse(keys), [{ pattern: 'https://*.cdn.example.com', members: keys }]);
    const apex = ['https://a.example.com', 'https://b.example.com', 'https://c.example.com'];
    assert.deepEqual(collapse(apex), [{ pattern: 'https://*.example.com', members: apex }]);
    const uk = ['https://a.example.co.uk', 'https://b.example.co.uk', 'https://c.example.co.uk'];
    assert.deepEqual(collapse(uk), [{ pattern: 'https://*.example.co.uk', members: uk }]);
  });

  it('takes the deepest parent that gathers enough hosts', () => {
    const keys = [
      'https://a.cdn.example.com',
      'https://b.cdn.example.com',
      'https://c.cdn.example.com',
      'https://www.example.com',
    ];
    assert.deepEqual(collapse(keys), [
      { pattern: 'https://*.cdn.example.com', members: keys.slice(0, 3) },
    ]);
    // Hosts at different depths under one registrable domain.
    const mixed = ['https://a.x.example.com', 'https://b.y.example.com', 'https://www.example.com'];
    assert.deepEqual(collapse(mixed), [{ pattern: 'https://*.example.com', members: mixed }]);
  });

  it('keeps a directory every host shares, and the port', () => {
    const keys = [
      'https://a.example.com/js/x.js',
      'https://b.example.com/js/y.js',
      'https://c.example.com/js/lib/z.js',
    ];
    assert.deepEqual(collapse(keys), [{ pattern: 'https://*.example.com/js/', members: keys }]);
    const ports = [
      'https://a.example.com:8443',
      'https://b.example.com:8443',
      'https://c.example.com:8443',
    ];
    assert.deepEqual(collapse(ports), [{ pattern: 'https://*.example.com:8443', members: ports }]);
  });

  it('never goes above the registrable domain, nor mixes schemes and ports', () => {
    assert.deepEqual(collapse(['https://a.com', 'https://b.com', 'https://c.com']), []);
    assert.deepEqual(collapse(['https://x.co.uk', 'https://y.co.uk', 'https://z.co.uk']), []);
    assert.deepEqual(
      collapse(['https://a.github.io', 'https://b.github.io', 'https://c.github.io']),
      [],
    );
    assert.deepEqual(
      collapse(['https://a.example.com', 'http://b.example.com', 'https://c.example.com:8443']),
      [],
    );
  });

  it('never collapses IP addresses, keywords, hashes, schemes or *', () => {
    assert.deepEqual(collapse(['http://127.0.0.1', 'http://127.0.0.2', 'http://127.0.0.3']), []);
    assert.deepEqual(collapse(["'self'", "'unsafe-eval'", "'unsafe-inline'", SHA256]), []);
    assert.deepEqual(collapse(['data:', 'blob:', 'https:', '*']), []);
  });

  it('a wildcard sibling takes part', () => {
    const keys = [
      'https://*.cdn.example.com',
      'https://a.cdn.example.com',
      'https://b.cdn.example.com',
    ];
    assert.deepEqual(collapse(keys), [{ pattern: 'https://*.cdn.example.com', members: keys }]);
  });

  it('three distinct hosts are needed, not three keys', () => {
    assert.deepEqual(
      collapse(['https://a.example.com', 'https://a.example.com:8443', 'https://b.example.com']),
      [],
    );
  });
});

describe('csp-source kind: validate and breadth', () => {
  it('accepts the grammar', () => {
    for (const key of [
      '*',
      'https:',
      'wss:',
      'https://cdn.example.com',
      'https://cdn.example.com:8443',
      'https://*.example.com',
      'https://*',
      'https://cdn.example.com/js/',
      'https://cdn.example.com/js/app.js',
      'https://cdn.example.com:*',
    ]) {
      assert.equal(kind.validate(key), undefined, key);
    }
  });

  it('rejects anything else with a reason', () => {
    const cases: [string, RegExp][] = [
      ['', /empty/],
      ["'unsafe-inlin'", /unknown keyword 'unsafe-inlin'/],
      ["'nonce-abc123'", /nonces/],
      ["'sha256-abc'", /sha256 hash is 44 base64 characters/],
      ["'sha1-abc'", /unknown hash algorithm/],
      ["'self", /quoted on both sides/],
      ['self', /keywords are quoted: write 'self'/],
      ['https://', /no host/],
      ['https://a.*.com', /whole leftmost label/],
      ['https://*a.example.com', /whole leftmost label/],
      ['https://*.*.example.com', /whole leftmost label/],
      ['https://ex ample.com', /not a host name/],
      ['https://[::1]', /IPv6/],
      ['https://user@example.com', /user name/],
      ['https://example.com:99999', /not a port/],
      ['https://example.com/a?b', /query/],
      ['https://example.com/a;b', /%3B/],
      ['cdn.example.com', /write the scheme: https:\/\/cdn.example.com/],
      ['*.example.com', /write the scheme/],
      ['https://CDN.example.com', /canonical form: write https:\/\/cdn.example.com/],
      ['HTTPS:', /canonical form: write https:/],
      ['https://cdn.example.com:443', /canonical form: write https:\/\/cdn.example.com$/],
      ['https://cdn.example.com/', /canonical form: write https:\/\/cdn.example.com$/],
      ["'SELF'", /canonical form: write 'self'/],
      ['\\https://cdn.example.com/x.js', /without '\\'/],
      ['1 2', /not a CSP source/],
    ];
    for (const [key, reason] of cases) assert.match(kind.validate(key) ?? '', reason, key);
  });

  it('warns about sources that allow a great deal', () => {
    assert.match(kind.breadth('*', options) ?? '', /every http and https URL/);
    assert.match(kind.breadth('https:', options) ?? '', /every https: URL/);
    assert.match(kind.breadth('data:', options) ?? '', /every data: URL/);
    assert.match(kind.breadth("'unsafe-inline'", options) ?? '', /nonces/);
    assert.match(kind.breadth('https://*', options) ?? '', /every host/);
    assert.match(kind.breadth('https://*.com', options) ?? '', /public suffix 'com'/);
    assert.match(kind.breadth('https://*.github.io', options) ?? '', /public suffix/);
    for (const key of ["'self'", 'https://*.example.com', 'https://cdn.example.com/js/', SHA256]) {
      assert.equal(kind.breadth(key, options), undefined, key);
    }
  });

  it('is the last position', () => {
    assert.equal(kind.child("'self'"), null);
  });
});

describe('csp-source kind in a tree', () => {
  it('learns per route and directive, simplifies and enforces', () => {
    const directive = literalKind({ name: 'directive', child: () => kind });
    let tree = createTree(literalKind({ name: 'route', child: () => directive }));
    for (const host of ['a', 'b', 'c'])
      add(tree, ['/notes/:id', 'img-src', `https://${host}.cdn.example.com/i/${host}.png`]);
    for (const file of ['a', 'b', 'c'])
      add(tree, ['/notes/:id', 'script-src', `https://cdn.example.org/js/${file}.js`]);
    for (const host of ['a', 'b', 'c'])
      add(tree, ['/notes/:id', 'font-src', `https://${host}.com/f.woff2`]);
    add(tree, ['/notes/:id', 'script-src', "'self'"]);
    tree = simplify(tree, options);
    assert.deepEqual(rules(tree), [
      ['/notes/:id', 'font-src', 'https://a.com/f.woff2'],
      ['/notes/:id', 'font-src', 'https://b.com/f.woff2'],
      ['/notes/:id', 'font-src', 'https://c.com/f.woff2'],
      ['/notes/:id', 'img-src', 'https://*.cdn.example.com/i/'],
      ['/notes/:id', 'script-src', "'self'"],
      ['/notes/:id', 'script-src', 'https://cdn.example.org/js/'],
    ]);
    assert.equal(
      allows(tree, ['/notes/:id', 'img-src', 'https://z.cdn.example.com/i/z.png']).allowed,
      true,
    );
    assert.equal(
      allows(tree, ['/notes/:id', 'img-src', 'https://z.cdn.example.com/other.png']).allowed,
      false,
    );
    assert.equal(
      allows(tree, ['/notes/:id', 'script-src', 'https://cdn.example.org/js/d.js']).allowed,
      true,
    );
    assert.equal(
      allows(tree, ['/notes/:id', 'script-src', 'https://evil.example.org/js/d.js']).allowed,
      false,
    );
    assert.equal(allows(tree, ['/notes/:id', 'font-src', 'https://d.com/f.woff2']).allowed, false);
    assert.deepEqual(rules(simplify(tree, options)), rules(tree));
  });
});

describe('csp-source kind: properties', () => {
  const fact = fc.oneof(
    fc.constantFrom(
      "'self'",
      "'unsafe-inline'",
      "'nonce-x'",
      SHA256,
      'data:',
      'blob:https://a/b',
      'data:text/plain,hi',
      '*',
      'inline',
      '',
    ),
    fc
      .tuple(
        fc.constantFrom('https', 'http', 'wss', 'HTTPS'),
        fc.constantFrom(
          'a.cdn.example.com',
          'b.cdn.example.com',
          'c.cdn.example.com',
          'a.com',
          'b.com',
          'c.com',
          '127.0.0.1',
          '*.example.com',
          '[::1]',
          'x_y.example.com',
        ),
        fc.constantFrom('', ':443', ':8443', ':*', ':80'),
        fc.constantFrom(
          '',
          '/',
          '/js/',
          '/js/a.js',
          '/js/lib/b.js',
          '/img/c.png',
          '/a;b',
          '/x?y#z',
          '/%41',
        ),
      )
      .map(([s, h, p, path]) => `${s}://${h}${p}${path}`),
    fc.string({ maxLength: 10 }),
  );

  it('a fact key validates, matches its fact and is never wider than its URL needs', () => {
    fc.assert(
      fc.property(fact, (f) => {
        const key = kind.key(f);
        assert.equal(kind.validate(key), undefined, `${f} → ${key}`);
        assert.equal(kind.matches(key, f), true, `${f} → ${key}`);
        assert.equal(kind.covers(key, key), true);
        if (key.startsWith('\\')) return;
        // No fact becomes a wildcard host, a port wildcard or '*'.
        assert.doesNotMatch(key, /^[a-z]+:\/\/\*|:\*$|^\*$/);
        assert.equal(kind.key(key), key);
      }),
      { numRuns: 1000 },
    );
  });

  it('in a tree, simplify keeps every learned source allowed and settles', () => {
    const learned = fact.filter((f) => !kind.key(f).startsWith('\\'));
    const root = literalKind({ name: 'directive', child: () => kind });
    fc.assert(
      fc.property(fc.array(learned, { maxLength: 20 }), (facts) => {
        const tree = createTree(root);
        for (const f of facts) add(tree, ['img-src', f]);
        const once = simplify(tree, options);
        for (const f of facts) assert.equal(allows(once, ['img-src', f]).allowed, true, f);
        assert.deepEqual(rules(simplify(once, options)), rules(once));
      }),
      { numRuns: 300 },
    );
  });
});
