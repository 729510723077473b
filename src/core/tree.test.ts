import assert from 'node:assert/strict';
import { test } from 'node:test';
import { literalKind } from './kinds/literal.ts';
import { pathKind } from './kinds/path.ts';
import {
  add,
  addRule,
  allows,
  clone,
  countRules,
  coversRule,
  createTree,
  diff,
  equals,
  FactShapeError,
  merge,
  PerGeneration,
  replaceContents,
  rules,
  simplify,
  subtract,
} from './tree.ts';

const resource = pathKind();
const capability = literalKind({ name: 'capability', child: () => resource });
const scope = literalKind({ name: 'scope', child: () => capability });
const options = { threshold: 3, roots: ['/data'], homes: [] };

function treeOf(...facts: string[][]) {
  const t = createTree(scope);
  for (const f of facts) add(t, f);
  return t;
}

test('add reports whether the tree changed', () => {
  const t = createTree(scope);
  assert.equal(add(t, ['GET /', 'fs.read', '/data/a']), true);
  assert.equal(add(t, ['GET /', 'fs.read', '/data/a']), false);
  assert.equal(add(t, ['GET /', 'fs.read', '/data/b']), true);
  assert.equal(countRules(t), 2);
});

test('a fact sequence of the wrong length is a programming error, not a silent rule', () => {
  const t = createTree(scope);
  assert.throws(() => add(t, ['GET /', 'fs.read']), FactShapeError);
  assert.throws(() => add(t, ['GET /', 'fs.read', '/a', 'extra']), FactShapeError);
  assert.throws(() => addRule(t, ['GET /']), FactShapeError);
  assert.equal(countRules(t), 0);
});

test('allows returns the matching rule, or the nearest rule for the message', () => {
  const t = simplify(
    treeOf(
      ['GET /', 'fs.read', '/data/1.png'],
      ['GET /', 'fs.read', '/data/2.png'],
      ['GET /', 'fs.read', '/data/3.png'],
    ),
    options,
  );
  assert.deepEqual(allows(t, ['GET /', 'fs.read', '/data/9.png']), {
    allowed: true,
    rule: ['GET /', 'fs.read', '/data/*.png'],
  });
  assert.deepEqual(allows(t, ['GET /', 'fs.read', '/etc/passwd']), {
    allowed: false,
    nearest: ['GET /', 'fs.read', '/data/*.png'],
  });
  assert.deepEqual(allows(t, ['POST /', 'fs.read', '/data/1.png']), {
    allowed: false,
    nearest: ['GET /', 'fs.read', '/data/*.png'],
  });
  assert.deepEqual(allows(createTree(scope), ['GET /', 'fs.read', '/a']), {
    allowed: false,
    nearest: undefined,
  });
});

test('allows backtracks when an exact key and a pattern both match a prefix', () => {
  const t = createTree(scope);
  addRule(t, ['*', 'fs.read', '/data/shared']);
  add(t, ['GET /', 'fs.write', '/data/out']);
  assert.equal(allows(t, ['GET /', 'fs.read', '/data/shared']).allowed, true);
  assert.equal(allows(t, ['GET /', 'fs.write', '/data/out']).allowed, true);
  assert.equal(allows(t, ['POST /', 'fs.write', '/data/out']).allowed, false);
});

test('simplify drops a rule that a sibling pattern with a covering subtree already grants', () => {
  const t = createTree(scope);
  addRule(t, ['*', 'fs.read', '/data/*.png']);
  add(t, ['GET /', 'fs.read', '/data/x']);
  const s = simplify(t, options);
  // GET / also reads /data/x, which * does not grant: both stay.
  assert.equal(countRules(s), 2);
  const u = createTree(scope);
  addRule(u, ['*', 'fs.read', '/data/*.png']);
  add(u, ['GET /', 'fs.read', '/data/1.png']);
  assert.deepEqual(rules(simplify(u, options)), [['*', 'fs.read', '/data/*.png']]);
});

test('merge, subtract and diff work on rules and leave their inputs alone', () => {
  const a = treeOf(['GET /', 'fs.read', '/data/a']);
  const b = treeOf(['GET /', 'fs.read', '/data/b'], ['GET /', 'fs.read', '/data/a']);
  const before = clone(a);
  const m = merge(a, b);
  assert.equal(countRules(m), 2);
  assert.ok(equals(a, before));
  assert.deepEqual(rules(subtract(b, a)), [['GET /', 'fs.read', '/data/b']]);
  const d = diff(a, b);
  assert.deepEqual(rules(d.added), [['GET /', 'fs.read', '/data/b']]);
  assert.equal(countRules(d.removed), 0);
  assert.equal(coversRule(b, ['GET /', 'fs.read', '/data/*']), false);
});

test('copies share their leaves, yet each copy grows on its own', () => {
  // A kind whose keys may end a rule or go on: `dir` ends, anything else has a path below it.
  const next = literalKind({ name: 'next', child: () => resource });
  const mixed = literalKind({ name: 'mixed', child: (key) => (key === 'dir' ? null : next) });
  const a = createTree(mixed);
  addRule(a, ['dir']);
  add(a, ['file', 'x', '/data/a']);
  const before = clone(a);
  for (const copy of [clone(a), merge(a, createTree(mixed)), simplify(a, options)]) {
    add(copy, ['file', 'x', '/data/b']);
    add(copy, ['file', 'y', '/data/c']);
    assert.equal(countRules(copy), 4);
  }
  assert.ok(equals(a, before));
  assert.equal(countRules(a), 2);
  // A leaf under a position that may go on (a hand-written rule cut short) still takes a subtree.
  const b = createTree(mixed);
  addRule(b, ['file', 'x', '/data/a']);
  const cut = merge(b, b);
  cut.root.children.get('file')!.remove('x');
  const m = merge(cut, b);
  assert.deepEqual(rules(m), [['file', 'x', '/data/a']]);
  const grown = clone(cut);
  add(grown, ['file', 'y', '/data/z']);
  assert.deepEqual(rules(grown), [['file', 'y', '/data/z']]);
  assert.deepEqual(rules(cut), [['file']]);
});

test('PerGeneration: the memory holds until a flush replaces the tree or its limit is reached', () => {
  const t = createTree(scope);
  let made = 0;
  const memory = new PerGeneration(t, 2, () => ({ id: ++made }));
  const first = memory.current;
  add(t, ['GET /a', 'fs.read', '/data/x']);
  assert.equal(memory.current, first, 'facts added: what was allowed stays allowed');
  assert.equal(memory.fresh, true);
  replaceContents(t, clone(t));
  assert.equal(memory.fresh, false);
  const second = memory.current;
  assert.notEqual(second, first);
  memory.added();
  memory.added();
  assert.notEqual(memory.current, second, 'the limit starts it afresh');
  assert.equal(made, 3);
});
