// Property-based tests of the policy engine on generated fact sets (fast-check).
// The facts go through the real runtime, sql and csp modules, so every kind takes part.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SimplifyOptions } from '../../src/core/kind.ts';
import { observationFact } from '../../src/core/kinds/sql.ts';
import * as policy from '../../src/core/policy.ts';
import * as tree from '../../src/core/tree.ts';
import { registryWith } from '../../src/modules/builtin.ts';
import { parsePolicy, serializePolicy } from '../../src/store/policy-file.ts';
import { fc } from '../support/fast-check.ts';

const RUNS = Number(process.env.LEASH_PROPERTY_RUNS ?? 250);
const modules = registryWith();
const OPTIONS: SimplifyOptions = {
  threshold: 3,
  roots: ['/srv/app', '/srv/data', '/tmp', '/home/dev/proj'],
  homes: [],
};

// Small alphabets so that siblings collide often and collapses actually happen.
const name = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', '.env', 'x y', '*', 'q\\r');
const ext = fc.constantFrom('.png', '.txt', '.js', '');
const dir = fc.constantFrom(
  '/srv/app',
  '/srv/app/views',
  '/srv/data/u1',
  '/srv/data/u2',
  '/srv/data/u3',
  '/srv/data/u4',
  '/tmp',
  '/etc',
  '/etc/ssl',
  '/home/dev',
  '/home/dev/proj/data',
  '/root',
  '/',
  '/usr/lib',
);
const filePath = fc
  .tuple(dir, fc.array(name, { maxLength: 2 }), name, ext)
  .map(([d, mids, n, e]) => [d === '/' ? '' : d, ...mids, n + e].join('/'));
const host = fc.constantFrom(
  'a.cdn.example.com',
  'b.cdn.example.com',
  'c.cdn.example.com',
  'd.cdn.example.com',
  'a.com',
  'b.com',
  'c.com',
  'x.example.co.uk',
  'y.example.co.uk',
  'z.example.co.uk',
  '127.0.0.1',
  '127.0.0.9',
  '[::1]',
);
const endpoint = fc.tuple(host, fc.constantFrom(443, 80, 5432)).map(([h, p]) => `${h}:${p}`);
const command = fc
  .tuple(
    fc.constantFrom('/usr/bin/tar -czf', 'ping -c 1', 'gzip -k', 'git'),
    fc.array(
      fc.constantFrom(
        '1',
        '22',
        '/tmp/a.tgz',
        '/tmp/b.tgz',
        '/srv/data/u1/x.png',
        'host',
        'a;b',
        '$(id)',
        '`id`',
        '-x',
      ),
      {
        maxLength: 2,
      },
    ),
    fc.constantFrom('', ' ; rm -rf /', ' | nc 127.0.0.9 1', ' && id'),
  )
  .map(([exe, args, tail]) => `${exe} ${args.join(' ')}${tail}`.trim());
const scope = fc.constantFrom('GET /notes/:id', 'POST /upload', '@startup', '@background');
const pkg = fc.constantFrom('app', 'pg', 'express');

const runtimeFact = fc.oneof(
  fc.tuple(scope, pkg, fc.constantFrom('fs.read', 'fs.write'), filePath),
  fc.tuple(scope, pkg, fc.constant('net.connect'), endpoint),
  fc.tuple(scope, pkg, fc.constant('child.spawn'), command),
);
const sqlFact = fc
  .tuple(
    scope,
    fc.constantFrom(
      'SELECT * FROM notes WHERE id = $1 AND owner = $2',
      'SELECT 1',
      'UPDATE notes SET body = $1 WHERE id = $2',
    ),
    fc.constantFrom('$1', '$2'),
    fc.subarray(['=principal', '=request.params.id', '=result.t1.owner']),
    fc.constantFrom('1', '2', '3', 'active', 'x'),
  )
  .map(([s, template, slot, eq, v]) =>
    template === 'SELECT 1' ? [s, template] : [s, template, slot, observationFact({ eq, v })],
  );
const cspFact = fc.tuple(
  fc.constantFrom('/notes/:id', '/'),
  fc.constantFrom('img-src', 'script-src', 'font-src'),
  fc.constantFrom(
    "'self'",
    'https://a.cdn.example.com',
    'https://b.cdn.example.com',
    'https://c.cdn.example.com',
    'https://cdn.example.org/js/a.js',
    'https://cdn.example.org/js/b.js',
    'https://cdn.example.org/js/c.js',
    'https://a.com',
    'https://b.com',
    'https://c.com',
    'data:',
  ),
);

type Fact = readonly [string, readonly string[]];
const fact: fc.Arbitrary<Fact> = fc.oneof(
  { weight: 3, arbitrary: runtimeFact.map((f): Fact => ['runtime', f]) },
  { weight: 1, arbitrary: sqlFact.map((f): Fact => ['sql', f]) },
  { weight: 1, arbitrary: cspFact.map((f): Fact => ['csp', f]) },
);
const facts = fc.array(fact, { maxLength: 40 });

function policyFrom(list: readonly Fact[]): policy.Policy {
  const trees = new Map<string, tree.PolicyTree>();
  for (const [module, f] of list) tree.add(policy.treeFor(trees, module, modules), f);
  return policy.policyOf(trees);
}

function allowed(p: policy.Policy, [module, f]: Fact): boolean {
  const t = p.modules.get(module);
  return t !== undefined && tree.allows(t, f).allowed;
}

const ruleSet = (p: policy.Policy) => new Set(policy.allRules(p).map((r) => JSON.stringify(r)));

test('everything learned is still allowed after simplify (soundness)', () => {
  fc.assert(
    fc.property(facts, (list) => {
      const simplified = policy.simplify(policyFrom(list), OPTIONS);
      for (const f of list) assert.ok(allowed(simplified, f), `lost ${JSON.stringify(f)}`);
    }),
    { numRuns: RUNS },
  );
});

test('simplify is idempotent', () => {
  fc.assert(
    fc.property(facts, (list) => {
      const once = policy.simplify(policyFrom(list), OPTIONS);
      const twice = policy.simplify(once, OPTIONS);
      assert.deepEqual([...ruleSet(twice)], [...ruleSet(once)]);
    }),
    { numRuns: RUNS },
  );
});

test('simplify never widens into /, system or home directories, or above a registrable domain', () => {
  fc.assert(
    fc.property(facts, (list) => {
      for (const [module, rule] of policy.allRules(policy.simplify(policyFrom(list), OPTIONS))) {
        if (module !== 'runtime') continue;
        const resource = rule[3]!;
        if (rule[2]!.startsWith('fs.')) {
          assert.ok(!['/', '/*', '/**'].includes(resource), resource);
          if (resource.includes('*') && !resource.includes('\\*')) {
            assert.match(resource, /^\/(srv\/app|srv\/data|tmp|home\/dev\/proj)\//, resource);
          }
        }
        if (rule[2] === 'net.connect')
          assert.doesNotMatch(resource, /^\*\.(com|co\.uk|example\.com):|^\*:/, resource);
      }
    }),
    { numRuns: RUNS },
  );
});

test('merge is commutative, associative and idempotent', () => {
  fc.assert(
    fc.property(facts, facts, facts, (x, y, z) => {
      const [a, b, c] = [policyFrom(x), policyFrom(y), policyFrom(z)];
      assert.ok(policy.equals(policy.merge(a, b), policy.merge(b, a)), 'commutative');
      assert.ok(
        policy.equals(policy.merge(policy.merge(a, b), c), policy.merge(a, policy.merge(b, c))),
        'associative',
      );
      assert.ok(policy.equals(policy.merge(a, a), a), 'idempotent');
    }),
    { numRuns: RUNS },
  );
});

test('parse(serialize(p)) equals p, for learned and simplified policies', () => {
  fc.assert(
    fc.property(facts, fc.boolean(), (list, simplified) => {
      const p = simplified ? policy.simplify(policyFrom(list), OPTIONS) : policyFrom(list);
      const text = serializePolicy(p);
      const back = parsePolicy(text, { file: 'generated.json', modules });
      assert.ok(policy.equals(back, p));
      assert.equal(serializePolicy(back), text);
    }),
    { numRuns: RUNS },
  );
});

test('diff(a, merge(a, b)) lists exactly the rules of b that a does not grant', () => {
  fc.assert(
    fc.property(facts, facts, fc.boolean(), (x, y, simplifyA) => {
      const a = simplifyA ? policy.simplify(policyFrom(x), OPTIONS) : policyFrom(x);
      const b = policyFrom(y);
      const d = policy.diff(a, policy.merge(a, b));
      const expected = policy
        .allRules(b)
        .filter(([module, rule]) => {
          const t = a.modules.get(module);
          return t === undefined || !tree.coversRule(t, rule);
        })
        .map((r) => JSON.stringify(r));
      assert.deepEqual([...ruleSet(d.added)].sort(), [...new Set(expected)].sort());
      assert.equal(policy.countRules(d.removed), 0);
    }),
    { numRuns: RUNS },
  );
});

test('subtract removes exactly what the other policy grants', () => {
  fc.assert(
    fc.property(facts, facts, (x, y) => {
      const a = policyFrom(x);
      const b = policy.simplify(policyFrom(y), OPTIONS);
      const rest = policy.subtract(a, b);
      for (const f of x) {
        const inB = allowed(b, f);
        assert.equal(allowed(rest, f), !inB && allowed(a, f), JSON.stringify(f));
      }
    }),
    { numRuns: RUNS },
  );
});
