import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resultSources } from './module.ts';

test('the results enforce remembers include those an exact observation names, not only conjunctions', () => {
  const wanted = resultSources([
    '=request.params.id & =result.tA.id',
    '{"eq":["=request.body.loginMethod","=result.tB.method"],"h":"kU"}',
    '{"eq":[],"v":"1"}',
    '*',
    'in ["a","b"]',
  ]);
  assert.deepEqual([...wanted].sort(), ['result.tA.id', 'result.tB.method']);
});
