// README's "Supported versions" table lists every instrumentation with its closed ranges, every
// builtin leash patches, and every SQL driver it knows it does not cover: one row each, in step.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { FRAMEWORK_INSTRUMENTATIONS } from '../../src/adapters/install.ts';
import { UNCOVERED_SQL_DRIVERS } from '../../src/drivers/uncovered.ts';
import { versionsOf } from '../../src/instrument/instrumentation.ts';
import { runtimeInstrumentations } from '../../src/modules/runtime/module.ts';
import { sqlDriverInstrumentations } from '../../src/modules/sql/module.ts';

const BUILTINS = [
  ['node:http, node:https', 'Node 26', 'request scopes; request and response events bound to them'],
  ['node:http client, fetch', 'Node 26', 'outbound requests, decided per request'],
  ['node:sqlite', 'Node 26', 'SQL statements of `DatabaseSync` and its statements'],
];

/** The table's rows as leash's code says they are. */
export function supportedRows(): string[] {
  const targets = [
    ...FRAMEWORK_INSTRUMENTATIONS,
    ...sqlDriverInstrumentations({
      check: () => () => {},
      expect: () => {},
      mustWait: () => false,
      defer: () => {},
    }),
    ...runtimeInstrumentations({ check: () => {} }),
  ];
  return [
    ...BUILTINS.map((cells) => `| ${cells.join(' | ')} |`),
    // A pipe inside a table cell, even in code, ends the cell unless escaped.
    ...targets.map(
      (t) => `| ${t.package} | \`${versionsOf(t).replaceAll('|', '\\|')}\` | ${t.purpose} |`,
    ),
    ...UNCOVERED_SQL_DRIVERS.map(
      (d) => `| ${d.package} | not covered | none: a warning, or ERR_LEASH_UNPATCHED in enforce |`,
    ),
  ];
}

test('README lists every supported version range and every uncovered driver', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = /<!-- supported-versions[^>]*-->\n([\s\S]*?)<!-- \/supported-versions -->/.exec(
    readme,
  );
  assert.ok(section, 'README has the supported-versions section');
  const rows = section[1]!
    .split('\n')
    .filter(
      (line) => line.startsWith('| ') && !line.startsWith('| package') && !line.startsWith('| ---'),
    );
  assert.deepEqual(rows, supportedRows());
});
