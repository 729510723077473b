// Error and warning codes, their docs and the code that raises or logs them agree, both ways (as
// Fastify's errors test keeps lib/errors.js and its Errors.md in step).
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ERROR_CODES, LeashError, location, RESERVED_CODES } from '../src/errors.ts';
import { createLogger } from '../src/log/logger.ts';
import { eventOf, lintOf, WARNING_CODES, type WarningCode } from '../src/warnings.ts';

const SRC = new URL('../src/', import.meta.url);

/** Every non-test source file's text, by path. */
function sources(dir = SRC.pathname): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) for (const [p, t] of sources(path)) out.set(p, t);
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts'))
      out.set(path, readFileSync(path, 'utf8'));
  }
  return out;
}

/** `## HEADING` → the text up to the next heading. */
function sections(file: string): Map<string, string> {
  const doc = readFileSync(new URL(`../docs/${file}`, import.meta.url), 'utf8');
  const out = new Map<string, string>();
  for (const part of doc.split(/^## /m).slice(1)) {
    const newline = part.indexOf('\n');
    out.set(part.slice(0, newline).trim(), part.slice(newline + 1).trim());
  }
  return out;
}

const code = sources();
const raisedInSource = (literal: string): boolean =>
  [...code].some(([path, text]) => !path.endsWith('/errors.ts') && text.includes(`'${literal}'`));

test('docs/errors.md documents exactly the codes of src/errors.ts, each with what to do', () => {
  const docs = sections('errors.md');
  assert.deepEqual([...docs.keys()].sort(), Object.keys(ERROR_CODES).sort());
  for (const [name, text] of docs) {
    assert.match(text, /\*\*Fix:\*\* \S/, `${name}: no **Fix:**`);
    assert.ok(ERROR_CODES[name as keyof typeof ERROR_CODES].length > 0, name);
  }
});

test('every error code is raised somewhere in src, except the reserved ones, which say so', () => {
  const docs = sections('errors.md');
  for (const name of Object.keys(ERROR_CODES) as (keyof typeof ERROR_CODES)[]) {
    if (RESERVED_CODES.includes(name)) {
      assert.equal(raisedInSource(name), false, `${name} is raised: it is not reserved any more`);
      assert.match(docs.get(name)!, /^Reserved:/, `${name}: the docs must say it is reserved`);
    } else {
      assert.ok(raisedInSource(name), `${name} is documented but nothing raises it`);
    }
  }
});

test('a LeashError carries its code and details, and location() formats file:line:col', () => {
  const error = new LeashError('ERR_LEASH_POLICY_PARSE', 'bad', {
    file: 'p.json',
    line: 3,
    column: 7,
  });
  assert.equal(error.code, 'ERR_LEASH_POLICY_PARSE');
  assert.equal(error.name, 'LeashError');
  assert.ok(error instanceof Error);
  assert.equal(location(error.details), 'p.json:3:7');
  assert.equal(location({ file: 'p.json' }), 'p.json');
});

test('docs/warnings.md documents exactly the codes of src/warnings.ts, with their event and what to do', () => {
  const docs = sections('warnings.md');
  assert.deepEqual([...docs.keys()].sort(), Object.keys(WARNING_CODES).sort());
  for (const [name, text] of docs) {
    const event = eventOf(name as WarningCode);
    const opening =
      event === undefined ? `\`lint: "${lintOf(name as WarningCode)}"\`` : `\`event: "${event}"\``;
    assert.ok(text.startsWith(opening), `${name}: must open with ${opening}`);
    assert.match(text, /\*\*Fix:\*\* \S/, `${name}: no **Fix:**`);
  }
});

test('every event leash logs, other than a violation, has a warning code, and every code is logged', () => {
  const logged = new Set<string>();
  for (const text of code.values()) {
    for (const m of text.matchAll(/\{ event: '([a-z-]+)'/g)) logged.add(m[1]!);
  }
  logged.delete('violation');
  const coded = new Set(
    (Object.keys(WARNING_CODES) as WarningCode[]).flatMap((c) => eventOf(c) ?? []),
  );
  assert.deepEqual([...logged].sort(), [...coded].sort());
});

test('the logger writes the warning code of an event into its line', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'leash-warnings-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'log.jsonl');
  const logger = createLogger({ destination: file });
  logger.child({ module: 'sql' }).warn({ event: 'sql-unparsable' }, 'cannot parse');
  logger.warn({ event: 'violation' }, 'would refuse');
  logger.flush();
  const [warning, violation] = readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  assert.equal(warning.code, 'LEASHWRN002');
  assert.equal(warning.module, 'sql');
  assert.equal(violation.code, undefined);
});

/**
 * Throws that carry no code, each an internal invariant a caller cannot cause by configuration,
 * policy or input (a wrong option passed by leash's own code), or caught where it is thrown.
 * Anything a person can cause throws a LeashError with a code.
 */
const UNCODED_THROWS: Record<string, { classes: string[]; why: string }> = {
  'core/bounded-cache.ts': { classes: ['RangeError'], why: 'a cache limit set by leash code' },
  'core/kinds/glob.ts': {
    classes: ['GlobSyntaxError', 'Error'],
    why: 'caught by the path and command kinds, which report the reason; unreachable branch',
  },
  'core/kinds/sql.ts': { classes: ['TypeError'], why: 'a source name built by leash code' },
  'core/tree.ts': { classes: ['Error'], why: 'a kind that never settles: a bug in a kind' },
  'instrument/shimmer.ts': {
    classes: ['TypeError'],
    why: 'wrapping a target that is not a function',
  },
  'isolate/pg-wire.ts': {
    classes: ['Malformed'],
    why: 'caught in the same file: a malformed message is answered as a protocol error',
  },
  'modules/csp/tag.ts': { classes: ['TypeError'], why: 'key length, checked by the config first' },
  'modules/runtime/exporters/node-flags.ts': {
    classes: ['Error'],
    why: "leash's own package.json missing: a broken install",
  },
  'modules/sql/statement-cache.ts': {
    classes: ['RangeError'],
    why: 'a cache size set by leash code',
  },
  'modules/sql/template.ts': { classes: ['TypeError'], why: 'a dialect named by leash code' },
  'supervisor/kernel/rules.ts': {
    classes: ['Error'],
    why: 'a command that cannot be found: reported as one line by the CLI (to be coded)',
  },
};

test('every throw in src carries a code, but for the listed internal invariants', () => {
  const uncoded: string[] = [];
  for (const [path, text] of code) {
    const file = path.slice(SRC.pathname.length);
    for (const m of text.matchAll(/throw new (\w+)\(/g)) {
      const cls = m[1]!;
      if (cls === 'LeashError' || cls === 'FactShapeError') continue;
      if (UNCODED_THROWS[file]?.classes.includes(cls)) continue;
      uncoded.push(`${file}: throw new ${cls}(…)`);
    }
  }
  assert.deepEqual(
    uncoded,
    [],
    'throw a LeashError with a code (src/errors.ts, docs/errors.md) instead, or list an internal invariant here with the reason',
  );
});
