import assert from 'node:assert/strict';
import { test } from 'node:test';
import { explainNodeWarnings } from './node-warnings.ts';

test('one line naming the flags Node warns about, what the policy grants, and what checks it', () => {
  assert.equal(
    explainNodeWarnings(
      ['--permission', '--allow-fs-read=/srv', '--allow-child-process', '--allow-net'],
      true,
    ),
    'leash: Node warns below about --allow-child-process, --allow-net: the policy grants child.spawn, network use, which Node can only allow for the whole process; leash checks each command line, each host:port against the policy in the service. The warnings are expected.\n',
  );
  assert.match(
    explainNodeWarnings(['--allow-worker'], false)!,
    /only the other layers you chose check them/,
  );
});

test('nothing to say when no flag makes Node warn', () => {
  assert.equal(explainNodeWarnings(['--permission', '--allow-fs-read=/srv'], true), undefined);
});
