import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fc } from '../../../test/support/fast-check.ts';
import { DEFAULT_SIMPLIFY_OPTIONS, type SimplifyOptions } from '../kind.ts';
import { add, allows, createTree, rules, simplify } from '../tree.ts';
import { endpointKind } from './endpoint.ts';
import { literalKind } from './literal.ts';

const kind = endpointKind();
const options: SimplifyOptions = DEFAULT_SIMPLIFY_OPTIONS;

function collapseTo(keys: string[], opts: SimplifyOptions = options) {
  return kind.collapse([...keys].sort(), opts);
}

describe('endpoint kind: keys', () => {
  it('normalises hostnames to lower case without a trailing dot', () => {
    assert.equal(kind.key('API.Example.com:443'), 'api.example.com:443');
    assert.equal(kind.key('api.example.com.:443'), 'api.example.com:443');
    assert.equal(kind.key('api.example.com:0443'), 'api.example.com:443');
  });

  it('keeps IP addresses, canonicalising their spelling', () => {
    assert.equal(kind.key('127.0.0.1:5432'), '127.0.0.1:5432');
    assert.equal(kind.key('127.1:5432'), '127.0.0.1:5432');
    assert.equal(kind.key('[::1]:5432'), '[::1]:5432');
    assert.equal(kind.key('[0:0:0:0:0:0:0:1]:5432'), '[::1]:5432');
    assert.equal(kind.key('[FE80::1%eth0]:80'), '[fe80::1%eth0]:80');
  });

  it('stores Unicode hostnames in their ASCII form', () => {
    assert.equal(kind.key('bücher.example:443'), 'xn--bcher-kva.example:443');
  });

  it('escapes facts that are not host:port, so they never become patterns', () => {
    for (const fact of [
      '*.example.com:443',
      'example.com:*',
      'example.com',
      ':443',
      'a b:80',
      '::1:80',
      '*:80',
    ]) {
      const key = kind.key(fact);
      assert.equal(key, `\\${fact}`, fact);
      assert.equal(kind.isPattern(key), false, fact);
      assert.equal(kind.validate(key), undefined, fact);
      assert.equal(kind.matches(key, fact), true, fact);
      assert.equal(kind.matches(key, 'a.example.com:443'), false, fact);
    }
  });

  it('an escaped wildcard fact is not matched by the wildcard pattern either', () => {
    assert.equal(kind.matches('*.example.com:443', '*.example.com:443'), false);
  });
});

describe('endpoint kind: matches', () => {
  it('a concrete key matches its own fact, however spelled', () => {
    assert.equal(kind.matches('api.example.com:443', 'API.example.com.:443'), true);
    assert.equal(kind.matches('api.example.com:443', 'api.example.com:80'), false);
    assert.equal(kind.matches('127.0.0.1:5432', '127.0.0.1:5432'), true);
    assert.equal(kind.matches('127.0.0.1:5432', '127.0.0.2:5432'), false);
  });

  it('a `*` stands for exactly one label', () => {
    const key = '*.cdn.example.com:443';
    assert.equal(kind.isPattern(key), true);
    assert.equal(kind.matches(key, 'a.cdn.example.com:443'), true);
    assert.equal(kind.matches(key, 'A.CDN.example.com:443'), true);
    assert.equal(kind.matches(key, 'cdn.example.com:443'), false);
    assert.equal(kind.matches(key, 'a.b.cdn.example.com:443'), false);
    assert.equal(kind.matches(key, 'a.cdn.example.com:80'), false);
    assert.equal(kind.matches(key, 'a.cdn.example.com.evil.com:443'), false);
    assert.equal(kind.matches(key, 'acdn.example.com:443'), false);
  });

  it('a hand-written port `*` matches any port of that host', () => {
    assert.equal(kind.isPattern('db.internal.example.com:*'), true);
    assert.equal(kind.matches('db.internal.example.com:*', 'db.internal.example.com:5432'), true);
    assert.equal(kind.matches('db.internal.example.com:*', 'db2.internal.example.com:5432'), false);
    assert.equal(kind.matches('*.example.com:*', 'a.example.com:1'), true);
  });

  it('a host wildcard never matches an IP address', () => {
    assert.equal(kind.matches('*.0.0.1:80', '127.0.0.1:80'), false);
  });
});

describe('endpoint kind: covers', () => {
  it('is reflexive', () => {
    for (const key of ['a.example.com:443', '*.example.com:443', '[::1]:80', 'x.com:*', '\\junk']) {
      assert.equal(kind.covers(key, key), true, key);
    }
  });

  it('a wildcard covers hosts one label below and the same wildcard', () => {
    assert.equal(kind.covers('*.example.com:443', 'a.example.com:443'), true);
    assert.equal(kind.covers('*.example.com:443', 'a.b.example.com:443'), false);
    assert.equal(kind.covers('*.example.com:443', '*.b.example.com:443'), false);
    assert.equal(kind.covers('*.example.com:443', 'a.example.com:80'), false);
    assert.equal(kind.covers('*.example.com:*', '*.example.com:443'), true);
    assert.equal(kind.covers('*.example.com:443', '*.example.com:*'), false);
    assert.equal(kind.covers('a.example.com:*', 'a.example.com:443'), true);
  });

  it('a concrete key covers only itself', () => {
    assert.equal(kind.covers('a.example.com:443', '*.example.com:443'), false);
    assert.equal(kind.covers('a.example.com:443', 'b.example.com:443'), false);
  });
});

describe('endpoint kind: collapse', () => {
  it('three subdomains on one port become *.parent', () => {
    const keys = ['a.cdn.example.com:443', 'b.cdn.example.com:443', 'c.cdn.example.com:443'];
    assert.deepEqual(collapseTo(keys), [{ pattern: '*.cdn.example.com:443', members: keys }]);
  });

  it('two are not enough (threshold 3), a lower threshold is honoured', () => {
    const keys = ['a.cdn.example.com:443', 'b.cdn.example.com:443'];
    assert.deepEqual(collapseTo(keys), []);
    assert.equal(collapseTo(keys, { ...options, threshold: 2 }).length, 1);
  });

  it('collapses to the registrable domain itself', () => {
    const keys = ['a.example.com:443', 'b.example.com:443', 'c.example.com:443'];
    assert.deepEqual(collapseTo(keys), [{ pattern: '*.example.com:443', members: keys }]);
    const uk = ['a.example.co.uk:443', 'b.example.co.uk:443', 'c.example.co.uk:443'];
    assert.deepEqual(collapseTo(uk), [{ pattern: '*.example.co.uk:443', members: uk }]);
    const deep = ['x.cdn.example.co.uk:443', 'y.cdn.example.co.uk:443', 'z.cdn.example.co.uk:443'];
    assert.deepEqual(collapseTo(deep), [{ pattern: '*.cdn.example.co.uk:443', members: deep }]);
  });

  it('never goes above the registrable domain', () => {
    assert.deepEqual(collapseTo(['a.com:443', 'b.com:443', 'c.com:443']), []);
    assert.deepEqual(collapseTo(['x.co.uk:443', 'y.co.uk:443', 'z.co.uk:443']), []);
    // Private suffixes count: tenants of github.io are different owners.
    assert.deepEqual(collapseTo(['a.github.io:443', 'b.github.io:443', 'c.github.io:443']), []);
    // Unknown top-level names are suffixes too (the list's default rule).
    assert.deepEqual(collapseTo(['a.internal:80', 'b.internal:80', 'c.internal:80']), []);
    // ... but names below them are fine.
    const svc = ['a.svc.cluster.local:80', 'b.svc.cluster.local:80', 'c.svc.cluster.local:80'];
    assert.deepEqual(collapseTo(svc), [{ pattern: '*.svc.cluster.local:80', members: svc }]);
  });

  it('never collapses IP addresses or single-label hosts', () => {
    assert.deepEqual(collapseTo(['127.0.0.1:5432', '127.0.0.2:5432', '127.0.0.3:5432']), []);
    assert.deepEqual(collapseTo(['[::1]:80', '[::2]:80', '[::3]:80']), []);
    assert.deepEqual(collapseTo(['db:5432', 'cache:5432', 'queue:5432']), []);
  });

  it('never collapses ports', () => {
    assert.deepEqual(
      collapseTo(['api.example.com:443', 'api.example.com:8443', 'api.example.com:9443']),
      [],
    );
    assert.deepEqual(
      collapseTo(['a.example.com:443', 'b.example.com:80', 'c.example.com:8080']),
      [],
    );
  });

  it('only groups hosts that differ in their first label', () => {
    const keys = ['a.x.example.com:443', 'b.y.example.com:443', 'c.z.example.com:443'];
    assert.deepEqual(collapseTo(keys), []);
  });

  it('a wildcard sibling takes part and the result covers it', () => {
    const keys = ['*.example.com:443', 'a.example.com:443', 'b.example.com:443'];
    assert.deepEqual(collapseTo(keys), [{ pattern: '*.example.com:443', members: keys }]);
  });

  it('hand-written port wildcards and escaped facts never take part', () => {
    assert.deepEqual(collapseTo(['a.example.com:*', 'b.example.com:*', 'c.example.com:*']), []);
    assert.deepEqual(collapseTo(['\\a.example.com', '\\b.example.com', '\\c.example.com']), []);
  });

  it('every proposed pattern covers its members', () => {
    const keys = [
      'a.cdn.example.com:443',
      'b.cdn.example.com:443',
      'c.cdn.example.com:443',
      'd.cdn.example.com:80',
      'x.example.org:443',
      'y.example.org:443',
      'z.example.org:443',
    ];
    const groups = collapseTo(keys);
    assert.equal(groups.length, 2);
    for (const group of groups)
      for (const m of group.members) assert.equal(kind.covers(group.pattern, m), true);
  });
});

describe('endpoint kind: validate and breadth', () => {
  it('accepts canonical keys', () => {
    for (const key of [
      'api.example.com:443',
      '127.0.0.1:5432',
      '[::1]:5432',
      '*.example.com:443',
      'x.example.com:*',
      '*.com:443',
    ]) {
      assert.equal(kind.validate(key), undefined, key);
    }
  });

  it('rejects malformed keys with a reason', () => {
    const cases: [string, RegExp][] = [
      ['', /empty/],
      ['api.example.com', /port is missing/],
      ['api.example.com:', /port is missing/],
      ['api.example.com:https', /not a port/],
      ['api.example.com:70000', /not a port/],
      [':443', /host is empty/],
      ['::1:5432', /brackets/],
      ['[::1:5432', /closing/],
      ['a*.example.com:443', /whole leftmost label/],
      ['a.*.example.com:443', /whole leftmost label/],
      ['*.*.example.com:443', /whole leftmost label/],
      ['**.example.com:443', /whole leftmost label/],
      ['*:443', /parent domain/],
      ['*.127.0.0.1:443', /not an IP/],
      ['a b.example.com:443', /not a hostname/],
      ['API.example.com:443', /canonical form: write api.example.com:443/],
      ['api.example.com.:443', /canonical form/],
      ['api.example.com:0443', /canonical form/],
      ['\\api.example.com:443', /without '\\'/],
    ];
    for (const [key, reason] of cases) assert.match(kind.validate(key) ?? '', reason, key);
  });

  it('warns about wildcards over a public suffix and any-port keys', () => {
    assert.match(kind.breadth('*.com:443', options) ?? '', /public suffix 'com'/);
    assert.match(kind.breadth('*.co.uk:443', options) ?? '', /public suffix/);
    assert.match(kind.breadth('*.github.io:443', options) ?? '', /public suffix/);
    assert.match(kind.breadth('api.example.com:*', options) ?? '', /every port/);
    assert.equal(kind.breadth('*.example.com:443', options), undefined);
    assert.equal(kind.breadth('api.example.com:443', options), undefined);
  });
});

describe('endpoint kind in a tree', () => {
  it('learns, simplifies and enforces', () => {
    const root = literalKind({ name: 'scope', child: () => kind });
    let tree = createTree(root);
    for (const host of ['a', 'b', 'c']) add(tree, ['@startup', `${host}.cdn.example.com:443`]);
    for (const host of ['a', 'b', 'c']) add(tree, ['@startup', `${host}.com:443`]);
    add(tree, ['@startup', '127.0.0.1:5432']);
    tree = simplify(tree, options);
    assert.deepEqual(rules(tree), [
      ['@startup', '*.cdn.example.com:443'],
      ['@startup', '127.0.0.1:5432'],
      ['@startup', 'a.com:443'],
      ['@startup', 'b.com:443'],
      ['@startup', 'c.com:443'],
    ]);
    assert.equal(allows(tree, ['@startup', 'Z.cdn.example.com:443']).allowed, true);
    assert.equal(allows(tree, ['@startup', 'd.com:443']).allowed, false);
    assert.equal(allows(tree, ['@startup', '127.0.0.1:5433']).allowed, false);
    assert.deepEqual(rules(simplify(tree, options)), rules(tree));
  });

  it('passes the child option through', () => {
    const leaf = literalKind({ name: 'leaf' });
    const withChild = endpointKind({ child: () => leaf });
    assert.equal(withChild.child('a.example.com:443'), leaf);
    assert.equal(kind.child('a.example.com:443'), null);
  });
});

describe('endpoint kind: properties', () => {
  const host = fc.oneof(
    fc.constantFrom(
      'a.cdn.example.com',
      'B.cdn.example.com.',
      'c.example.co.uk',
      'a.com',
      '127.0.0.1',
      '127.1',
      '[::1]',
      '[0::1]',
      'localhost',
      '*.example.com',
      'bücher.example',
      '',
    ),
    fc.string({ maxLength: 8 }),
  );
  const port = fc.oneof(
    fc.constantFrom('443', '0443', '5432', '*', '', '70000'),
    fc.string({ maxLength: 3 }),
  );
  const fact = fc.oneof(
    fc.tuple(host, port).map(([h, p]) => `${h}:${p}`),
    fc.string({ maxLength: 12 }),
  );

  it('a fact key is never a pattern, validates and matches its fact', () => {
    fc.assert(
      fc.property(fact, (f) => {
        const key = kind.key(f);
        assert.equal(kind.isPattern(key), false);
        assert.equal(kind.validate(key), undefined);
        assert.equal(kind.matches(key, f), true);
        assert.equal(kind.covers(key, key), true);
        if (!key.startsWith('\\')) assert.equal(kind.key(key), key);
      }),
      { numRuns: 1000 },
    );
  });

  it('in a tree, simplify keeps every learned endpoint allowed and settles', () => {
    const learned = fc
      .tuple(
        fc.constantFrom('a', 'b', 'c', 'd', 'x.cdn', 'y.cdn', 'z.cdn', '*'),
        fc.constantFrom('example.com', 'co.uk', 'example.co.uk', 'github.io', 'com'),
        fc.constantFrom('443', '80'),
      )
      .map(([l, d, p]) => `${l}.${d}:${p}`);
    const root = literalKind({ name: 'scope', child: () => kind });
    fc.assert(
      fc.property(fc.array(learned, { maxLength: 20 }), (facts) => {
        const tree = createTree(root);
        for (const f of facts) add(tree, ['s', f]);
        const once = simplify(tree, options);
        for (const f of facts) assert.equal(allows(once, ['s', f]).allowed, true, f);
        for (const [, key] of rules(once))
          assert.equal(kind.breadth(key!, options), undefined, key!);
        assert.deepEqual(rules(simplify(once, options)), rules(once));
      }),
      { numRuns: 300 },
    );
  });
});
