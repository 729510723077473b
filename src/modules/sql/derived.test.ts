import assert from 'node:assert/strict';
import { test } from 'node:test';
import { derivedSources } from './derived.ts';

const inputs = new Map<string, string[]>([
  ['groc', ['request.query.q']],
  ['  Ann ', ['request.body.name']],
  ['$12.50', ['request.body.price']],
  ['item-42', ['request.params.sku']],
]);

test('LIKE wrappings, trimming, case and numbers name their input and transformation', () => {
  assert.deepEqual(derivedSources('%groc%', inputs), ['request.query.q|contains']);
  assert.deepEqual(derivedSources('groc%', inputs), ['request.query.q|prefix']);
  assert.deepEqual(derivedSources('%groc', inputs), ['request.query.q|suffix']);
  assert.deepEqual(derivedSources('Ann', inputs), [
    'request.body.name|trim',
    'request.body.name|lower',
  ]);
  assert.deepEqual(derivedSources('ann', inputs), ['request.body.name|lower']);
  assert.deepEqual(derivedSources('12.5', inputs), ['request.body.price|number']);
  assert.deepEqual(derivedSources('42', inputs), ['request.params.sku|number']);
});

test('values that are not derived from an input have no derived source', () => {
  assert.deepEqual(derivedSources('%other%', inputs), []);
  assert.deepEqual(derivedSources('13', inputs), []);
  assert.deepEqual(derivedSources('bob', inputs), []);
});
