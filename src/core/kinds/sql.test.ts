import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fc } from '../../../test/support/fast-check.ts';
import { DEFAULT_SIMPLIFY_OPTIONS, type SimplifyOptions } from '../kind.ts';
import { add, allows, createTree, rules, simplify } from '../tree.ts';
import { literalKind } from './literal.ts';
import {
  isSource,
  observationFact,
  sqlConstraintKind,
  sqlSlotKind,
  sqlTemplateKind,
} from './sql.ts';

const constraint = sqlConstraintKind();
const slot = sqlSlotKind(constraint);
const template = sqlTemplateKind({ slotKind: slot });
const options: SimplifyOptions = DEFAULT_SIMPLIFY_OPTIONS;

const obs = (v: string, ...eq: string[]) => observationFact({ eq, v });

describe('sql-template kind', () => {
  const t = 'SELECT * FROM notes WHERE id = $1 AND owner = $2';

  it('matches exactly and never collapses', () => {
    assert.equal(template.name, 'sql-template');
    assert.equal(template.key(t), t);
    assert.equal(template.matches(t, t), true);
    assert.equal(template.matches(t, `${t} OR 1 = 1`), false);
    assert.equal(template.isPattern('*'), false);
    assert.equal(template.matches('*', t), false);
    assert.equal(template.covers(t, t), true);
    assert.equal(template.covers('*', t), false);
    assert.deepEqual(template.collapse(['SELECT 1', 'SELECT 2', 'SELECT 3'], options), []);
  });

  it('names the slot kind when the template has slots', () => {
    assert.equal(template.child(t), slot);
    assert.equal(template.child('SELECT $10'), slot);
    assert.equal(template.child('SELECT 1'), null);
    assert.equal(template.child('SELECT $0'), null);
    assert.equal(template.child("SELECT 'a$b'"), null);
  });

  it('validates', () => {
    assert.equal(template.validate(t), undefined);
    assert.match(template.validate('') ?? '', /empty/);
    assert.match(template.validate('  ') ?? '', /empty/);
    assert.equal(template.breadth(t, options), undefined);
  });
});

describe('sql-slot kind', () => {
  it('is exact and names the constraint kind', () => {
    assert.equal(slot.name, 'sql-slot');
    assert.equal(slot.key('$1'), '$1');
    assert.equal(slot.matches('$1', '$1'), true);
    assert.equal(slot.matches('$1', '$2'), false);
    assert.equal(slot.isPattern('$1'), false);
    assert.deepEqual(slot.collapse(['$1', '$2', '$3'], options), []);
    assert.equal(slot.child('$1'), constraint);
  });

  it('validates the $<n> shape', () => {
    for (const key of ['$1', '$2', '$12']) assert.equal(slot.validate(key), undefined, key);
    for (const key of ['', '1', '$', '$0', '$01', '$1a', ' $1', '*'])
      assert.match(slot.validate(key) ?? '', /not a slot/, key);
  });
});

describe('sql-constraint kind: facts', () => {
  it('observationFact is canonical', () => {
    assert.equal(
      obs('42', '=request.params.id', '=principal'),
      '{"eq":["=principal","=request.params.id"],"v":"42"}',
    );
    assert.equal(obs('42', '=principal', '=principal'), '{"eq":["=principal"],"v":"42"}');
    assert.equal(obs('x'), '{"eq":[],"v":"x"}');
    assert.throws(() => observationFact({ eq: ['principal'], v: '1' }), /not an equality source/);
  });

  it('recognises the sources', () => {
    for (const s of [
      '=principal',
      '=request.params.id',
      '=request.body.user.id',
      '=request.headers.x-user-id',
      '=result.t1.owner',
    ]) {
      assert.equal(isSource(s), true, s);
    }
    for (const s of [
      'principal',
      '=user',
      '=request',
      '=request.',
      '=request..a',
      '=result.t1',
      '=result.t1.a.b',
      '=principal.id',
      '= principal',
    ]) {
      assert.equal(isSource(s), false, s);
    }
  });

  it('keys observations canonically and escapes anything else', () => {
    assert.equal(
      constraint.key('{"v":"1","eq":["=request.q","=principal"]}'),
      '{"eq":["=principal","=request.q"],"v":"1"}',
    );
    for (const fact of [
      '*',
      '=principal',
      'in ["a"]',
      'garbage',
      '{"eq":["=nope"],"v":"1"}',
      '{"eq":[],"v":1}',
    ]) {
      const key = constraint.key(fact);
      assert.equal(key, `\\${fact}`, fact);
      assert.equal(constraint.isPattern(key), false, fact);
      assert.equal(constraint.validate(key), undefined, fact);
      assert.equal(constraint.matches(key, fact), true, fact);
      assert.equal(constraint.matches(key, obs('1')), false, fact);
    }
  });

  it('an observation key is exact', () => {
    const key = obs('42', '=principal');
    assert.equal(constraint.isPattern(key), false);
    assert.equal(constraint.matches(key, key), true);
    assert.equal(constraint.matches(key, obs('43', '=principal')), false);
    assert.equal(constraint.matches(key, obs('42')), false);
  });
});

describe('sql-constraint kind: matches', () => {
  it('* matches everything', () => {
    assert.equal(constraint.isPattern('*'), true);
    assert.equal(constraint.matches('*', obs('1')), true);
    assert.equal(constraint.matches('*', obs('1', '=principal')), true);
    assert.equal(constraint.matches('*', 'garbage'), true);
  });

  it('a conjunction matches when every source held', () => {
    const key = '=principal & =request.params.id';
    assert.equal(constraint.isPattern(key), true);
    assert.equal(constraint.matches(key, obs('7', '=principal', '=request.params.id')), true);
    assert.equal(
      constraint.matches(key, obs('7', '=principal', '=request.params.id', '=result.t1.owner')),
      true,
    );
    assert.equal(constraint.matches(key, obs('7', '=principal')), false);
    assert.equal(constraint.matches(key, obs('7')), false);
    assert.equal(constraint.matches('=principal', obs('8', '=request.params.id')), false);
    assert.equal(constraint.matches('=principal', 'garbage'), false);
  });

  it('a constant set matches a listed value that came from no source', () => {
    const key = 'in ["active","archived"]';
    assert.equal(constraint.isPattern(key), true);
    assert.equal(constraint.matches(key, obs('active')), true);
    assert.equal(constraint.matches(key, obs('deleted')), false);
    // The same text typed into a request is data, not the constant.
    assert.equal(constraint.matches(key, obs('active', '=request.query.status')), false);
  });
});

describe('sql-constraint kind: covers', () => {
  it('is reflexive', () => {
    for (const key of ['*', '=principal', 'in ["a"]', obs('1'), '\\x'])
      assert.equal(constraint.covers(key, key), true, key);
  });

  it('relates the forms', () => {
    assert.equal(constraint.covers('*', '=principal'), true);
    assert.equal(constraint.covers('*', 'in ["a"]'), true);
    assert.equal(constraint.covers('=principal', '*'), false);
    assert.equal(constraint.covers('=principal', '=principal & =request.params.id'), true);
    assert.equal(constraint.covers('=principal & =request.params.id', '=principal'), false);
    assert.equal(constraint.covers('=principal', obs('1', '=principal', '=request.q')), true);
    assert.equal(constraint.covers('=principal', obs('1')), false);
    assert.equal(constraint.covers('=principal', 'in ["a"]'), false);
    assert.equal(constraint.covers('in ["a","b"]', 'in ["a"]'), true);
    assert.equal(constraint.covers('in ["a"]', 'in ["a","b"]'), false);
    assert.equal(constraint.covers('in ["a"]', obs('a')), true);
    assert.equal(constraint.covers('in ["a"]', obs('a', '=principal')), false);
    assert.equal(constraint.covers('in ["a"]', '=principal'), false);
    assert.equal(constraint.covers(obs('1'), obs('1', '=principal')), false);
  });
});

describe('sql-constraint kind: collapse (learning invariants)', () => {
  const collapse = (keys: string[], opts: SimplifyOptions = options) =>
    constraint.collapse([...keys].sort(), opts);

  it('keeps the sources that held in every observation', () => {
    const keys = [
      obs('1', '=principal', '=request.params.id'),
      obs('2', '=principal', '=request.params.id', '=result.t1.owner'),
      obs('3', '=principal', '=request.params.id'),
    ];
    assert.deepEqual(collapse(keys), [
      { pattern: '=principal & =request.params.id', members: [...keys].sort() },
    ]);
    assert.equal(
      collapse([
        obs('1', '=principal'),
        obs('2', '=principal'),
        obs('3', '=request.q', '=principal'),
      ])[0]?.pattern,
      '=principal',
    );
  });

  it('learns a set of constants when values repeat, and any value when they are all different', () => {
    const keys = [obs('active'), obs('active'), obs('archived'), obs('active')];
    const distinct = [...new Set(keys)];
    assert.equal(distinct.length, 2);
    // Two distinct observations are fewer than the threshold...
    assert.deepEqual(collapse(distinct), []);
    // ... three all-different ones are a high-cardinality slot: any value.
    const three = [obs('active'), obs('archived'), obs('draft')];
    assert.deepEqual(collapse(three), [{ pattern: '*', members: [...three].sort() }]);
    // Values seen again while learning were recorded as `in [...]`: repeats make a set.
    const repeating = [
      'in ["active"]',
      'in ["archived"]',
      'in ["draft"]',
      obs('deleted'),
      obs('pending'),
      obs('held'),
    ];
    assert.deepEqual(collapse(repeating), [
      {
        pattern: 'in ["active","archived","deleted","draft","held","pending"]',
        members: [...repeating].sort(),
      },
    ]);
    // Below the threshold, sets learned one by one merge into one.
    assert.deepEqual(collapse(['in ["a"]', 'in ["b"]', obs('c')]), [
      { pattern: 'in ["a","b"]', members: ['in ["a"]', 'in ["b"]'] },
    ]);
  });

  it('a value derived from a request input follows the input', () => {
    const like = [
      obs('%tea%', '=request.query.q|contains'),
      obs('%jam%', '=request.query.q|contains'),
      obs('rye', '=request.query.q'),
    ];
    assert.equal(collapse(like)[0]?.pattern, '=request.query.q|contains');
    // Plain equality every time: the strongest source only.
    const plain = [obs('a', '=request.q'), obs('b', '=request.q'), obs('c', '=request.q')];
    assert.equal(collapse(plain)[0]?.pattern, '=request.q');
    assert.ok(constraint.covers('=request.q|lower', obs('x', '=request.q')));
    assert.ok(!constraint.covers('=request.q', obs('x', '=request.q|lower')));
    assert.ok(
      constraint.matches('=request.body.price|number', obs('12.5', '=request.body.price|number')),
    );
    assert.equal(
      constraint.validate('=request.q|upper'),
      "unknown source '=request.q|upper': expected =principal, =request.<path>[|contains|prefix|suffix|trim|lower|number] or =result.<template>.<column>",
    );
  });

  it('more than three constants, or sources that do not always hold, give *', () => {
    assert.equal(collapse([obs('1'), obs('2'), obs('3'), obs('4')])[0]?.pattern, '*');
    assert.equal(
      collapse([obs('1', '=principal'), obs('2', '=request.q'), obs('3', '=principal')])[0]
        ?.pattern,
      '*',
    );
    // A value that sometimes came from the request is not a constant either.
    assert.equal(collapse([obs('a'), obs('b'), obs('a', '=request.q')])[0]?.pattern, '*');
  });

  it('fewer than threshold observations stay exact', () => {
    assert.deepEqual(collapse([obs('1', '=principal'), obs('2', '=principal')]), []);
    assert.equal(
      collapse([obs('1', '=principal'), obs('2', '=principal')], { ...options, threshold: 2 })[0]
        ?.pattern,
      '=principal',
    );
  });

  it('sibling rules take part and are covered by the result', () => {
    const keys = [
      '=principal & =request.params.id',
      obs('5', '=principal'),
      obs('6', '=principal'),
      obs('7', '=principal'),
    ];
    const groups = collapse(keys);
    assert.deepEqual(groups, [{ pattern: '=principal', members: [...keys].sort() }]);
    for (const m of groups[0]!.members) assert.equal(constraint.covers('=principal', m), true);
    assert.equal(collapse(['in ["a"]', obs('b'), obs('c'), obs('d')])[0]?.pattern, '*');
    assert.equal(
      collapse(['in ["a"]', obs('b'), obs('c'), obs('a')], { ...options, threshold: 2 })[0]
        ?.pattern,
      '*',
      'more values seen once than repeated',
    );
    assert.equal(
      collapse(['in ["a"]', 'in ["b"]', obs('c'), obs('d')], { ...options, threshold: 2 })[0]
        ?.pattern,
      'in ["a","b","c","d"]',
    );
    const withPrincipal = ['=principal', obs('1'), obs('2'), obs('3')];
    assert.equal(collapse(withPrincipal)[0]?.pattern, '*');
  });

  it('observations a sibling rule already grants do not count', () => {
    const keys = ['=principal', obs('1', '=principal'), obs('2', '=principal'), obs('3')];
    assert.deepEqual(collapse(keys), []);
    assert.deepEqual(collapse(['*', obs('1'), obs('2'), obs('3')]), []);
  });

  it('escaped facts never take part', () => {
    assert.deepEqual(collapse(['\\a', '\\b', '\\c']), []);
    assert.deepEqual(collapse(['\\a', obs('1'), obs('2')]), []);
  });
});

describe('sql-constraint kind: validate and breadth', () => {
  const constraintOk = [
    '*',
    '=principal',
    '=principal & =request.params.id',
    '=result.t1.owner',
    'in ["a"]',
    'in ["a","b"]',
    obs('1', '=principal'),
  ];

  it('accepts canonical keys', () => {
    for (const key of constraintOk) assert.equal(constraint.validate(key), undefined, key);
  });

  it('rejects malformed keys with a reason', () => {
    const cases: [string, RegExp][] = [
      ['', /empty/],
      ['principal', /not a constraint/],
      ['=user', /unknown source '=user'/],
      ['=principal & ', /unknown source ''/],
      ['=request.params.id & =principal', /canonical form: write =principal & =request.params.id/],
      ['=principal&=request.q', /canonical form/],
      ['=principal & =principal', /canonical form: write =principal$/],
      ['in ["b","a"]', /canonical form: write in \["a","b"\]/],
      ['in [ "a" ]', /canonical form/],
      ['in []', /allows nothing/],
      ['in [1]', /array of strings/],
      ['in a', /array of strings/],
      ['{"eq":[],"v":1}', /"v"/],
      ['{"eq":["x"],"v":"1"}', /unknown source 'x'/],
      ['{"eq":[],"v":"1","w":2}', /unknown observation fields: w/],
      ['{"v":"1","eq":[]}', /canonical form/],
      ['{', /must be JSON/],
      [`\\${obs('1')}`, /without '\\'/],
    ];
    for (const [key, reason] of cases) assert.match(constraint.validate(key) ?? '', reason, key);
  });

  it('never warns: * is a legitimate learned result', () => {
    for (const key of constraintOk) assert.equal(constraint.breadth(key, options), undefined, key);
  });
});

describe('sql kinds in a tree', () => {
  it('a repeated observation counts once', () => {
    let tree = createTree(literalKind({ name: 'scope', child: () => template }));
    for (const user of ['ann', 'bob', 'ann'])
      add(tree, ['GET /me', 'SELECT * FROM users WHERE id = $1', '$1', obs(user, '=principal')]);
    tree = simplify(tree, options);
    assert.equal(rules(tree).length, 2);
    assert.equal(
      allows(tree, ['GET /me', 'SELECT * FROM users WHERE id = $1', '$1', obs('cy', '=principal')])
        .allowed,
      false,
    );
  });

  it('learns per-slot invariants and enforces them', () => {
    const root = literalKind({ name: 'scope', child: () => template });
    let tree = createTree(root);
    const t = 'SELECT * FROM notes WHERE id = $1 AND owner = $2';
    for (const [id, user] of [
      ['1', 'ann'],
      ['2', 'bob'],
      ['3', 'cy'],
    ] as const) {
      add(tree, ['GET /notes/:id', t, '$1', obs(id, '=request.params.id')]);
      add(tree, ['GET /notes/:id', t, '$2', obs(user, '=principal')]);
    }
    add(tree, ['GET /health', 'SELECT 1']);
    tree = simplify(tree, options);
    assert.deepEqual(rules(tree), [
      ['GET /health', 'SELECT 1'],
      ['GET /notes/:id', t, '$1', '=request.params.id'],
      ['GET /notes/:id', t, '$2', '=principal'],
    ]);
    assert.equal(
      allows(tree, ['GET /notes/:id', t, '$2', obs('dan', '=principal', '=request.params.id')])
        .allowed,
      true,
    );
    // Another user's rows: the owner slot no longer equals the principal.
    assert.equal(
      allows(tree, ['GET /notes/:id', t, '$2', obs('ann', '=request.query.owner')]).allowed,
      false,
    );
    assert.equal(
      allows(tree, ['GET /notes/:id', `${t} OR 1 = 1`, '$1', obs('1', '=request.params.id')])
        .allowed,
      false,
    );
    assert.equal(allows(tree, ['GET /health', 'SELECT 1']).allowed, true);
    assert.deepEqual(rules(simplify(tree, options)), rules(tree));
  });
});

describe('sql-constraint kind: properties', () => {
  const sources = fc.subarray([
    '=principal',
    '=request.params.id',
    '=request.query.q',
    '=result.t1.owner',
  ]);
  const observation = fc
    .tuple(sources, fc.constantFrom('1', '2', '3', '4', 'active', 'x'))
    .map(([eq, v]) => obs(v, ...eq));
  const root = literalKind({ name: 'slot', child: () => constraint });

  it('learned observations stay allowed after simplify, which settles', () => {
    fc.assert(
      fc.property(fc.array(observation, { maxLength: 20 }), (facts) => {
        const tree = createTree(root);
        for (const f of facts) add(tree, ['$1', f]);
        const once = simplify(tree, options);
        for (const f of facts) assert.equal(allows(once, ['$1', f]).allowed, true, f);
        assert.deepEqual(rules(simplify(once, options)), rules(once));
        for (const [, key] of rules(once)) assert.equal(constraint.validate(key!), undefined, key!);
      }),
      { numRuns: 500 },
    );
  });

  it('a learned invariant is the strongest one that held', () => {
    fc.assert(
      fc.property(fc.uniqueArray(observation, { minLength: 3, maxLength: 10 }), (facts) => {
        const [group] = constraint.collapse([...facts].sort(), options);
        assert.ok(group);
        const sets = facts.map((f) => JSON.parse(f).eq as string[]);
        const always = sets[0]!.filter((s) => sets.every((eq) => eq.includes(s)));
        if (always.length > 0) assert.equal(group.pattern, always.join(' & '));
        else if (sets.some((eq) => eq.length > 0)) assert.equal(group.pattern, '*');
      }),
      { numRuns: 500 },
    );
  });
});
