import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  HAND_WRITTEN_MARKER,
  splitAtMarker,
  withHandWritten,
} from '../../bench/lib/hand-written.ts';
import { markdown, type Results, withLightSection } from '../../bench/report.ts';

const M = HAND_WRITTEN_MARKER;
const HAND = '\n## 2026-12-07, second run\n\nwhy.\n\n## 2026-11-23: older\n\nmore.\n';

/** Results of an empty run: enough for markdown() to write its headings. */
function results(commit: string): Results {
  return {
    version: 1,
    environment: {
      date: '2026-12-08T00:00:00Z',
      node: 'v26.10.0',
      cpuModel: 'cpu',
      cores: 2,
      memoryGb: 1,
      kernel: 'k',
      commit,
      command: 'npm run bench',
      quick: false,
      pinned: true,
      durationSeconds: 60,
    },
    micro: [],
    growth: [],
    notes: [],
    service: [],
    summary: [],
    targets: [],
  };
}

test('the marker line cuts a document into its generated and hand-written parts', () => {
  assert.deepEqual(splitAtMarker(`# B\n\ngen\n\n${M}\n${HAND}`), {
    generated: '# B\n\ngen\n',
    handWritten: HAND,
  });
  assert.deepEqual(splitAtMarker(`# B\n${M}  \n`), { generated: '# B', handWritten: '' });
  assert.deepEqual(splitAtMarker(`# B\n\nsee ${M} inline\n`), {
    generated: `# B\n\nsee ${M} inline\n`,
    handWritten: undefined,
  });
});

test('a full run rewrites the generated part and keeps the marker and what follows it', () => {
  const old = `# Benchmarks\n\nold figures\n\n${M}\n${HAND}`;
  const merged = withHandWritten('# Benchmarks\n\nnew figures\n', old);
  assert.equal(merged.lost, false);
  assert.equal(merged.text, `# Benchmarks\n\nnew figures\n\n${M}\n${HAND}`);
  assert.equal(withHandWritten('# Benchmarks\n\nnew figures\n', merged.text).text, merged.text);
});

test('a file with no marker is rewritten whole, flagged as lost, and gets the marker', () => {
  const merged = withHandWritten('# Benchmarks\n\nnew\n', '# Benchmarks\n\nold\n\n## notes\n');
  assert.deepEqual(merged, { text: `# Benchmarks\n\nnew\n\n${M}\n`, lost: true });
  assert.deepEqual(withHandWritten('# Benchmarks\n\nnew\n', undefined), {
    text: `# Benchmarks\n\nnew\n\n${M}\n`,
    lost: false,
  });
});

test('a light-only run changes only the generated part, above the marker', () => {
  // A hand-written section may quote the light route's heading: it is not the one replaced.
  const hand = '\n## Light route\n\nby hand\n';
  const doc = `# Benchmarks\n\n## Light route\n\nold\n\n## Micro-benchmarks\n\nm\n\n${M}\n${hand}`;
  assert.equal(
    withLightSection(doc, '## Light route\n\nnew\n'),
    `# Benchmarks\n\n## Light route\n\nnew\n\n## Micro-benchmarks\n\nm\n\n${M}\n${hand}`,
  );
  // The light section last in the generated part: the marker and the rest stay.
  assert.equal(
    withLightSection(
      `# Benchmarks\n\n## Light route\n\nold\n\n${M}\n${HAND}`,
      '## Light route\n\nnew\n',
    ),
    `# Benchmarks\n\n## Light route\n\nnew\n\n${M}\n${HAND}`,
  );
  // No light section and no micro-benchmarks: it goes at the end of the generated part.
  assert.equal(
    withLightSection(`# Benchmarks\n\nx\n\n${M}\n${HAND}`, '## Light route\n\nl\n'),
    `# Benchmarks\n\nx\n\n## Light route\n\nl\n\n${M}\n${HAND}`,
  );
});

test('full runs then a light-only run keep the hand-written sections of a real report', () => {
  const first = withHandWritten(markdown(results('aaaaaaa')), undefined).text;
  const edited = `${first}${HAND}`;
  const second = withHandWritten(markdown(results('bbbbbbb')), edited);
  assert.equal(second.lost, false);
  assert.match(second.text, /\*\*leash commit:\*\* bbbbbbb/);
  assert.doesNotMatch(second.text, /aaaaaaa/);
  const light = withLightSection(second.text, '## Light route\n\nl\n');
  assert.match(light, /\n## Light route\n\nl\n\n## Micro-benchmarks\n/);
  assert.equal(splitAtMarker(light).handWritten, HAND);
});

test("BENCHMARKS.md has one marker, after the generated report's last section", () => {
  const text = readFileSync(new URL('../../BENCHMARKS.md', import.meta.url), 'utf8');
  assert.equal(text.split('\n').filter((line) => line.trimEnd() === M).length, 1);
  const { generated, handWritten } = splitAtMarker(text);
  assert.match(generated, /\n## simplify and merge as the policy grows\n/);
  for (const heading of ['# Benchmarks', '## Targets', '## Light route', '## Micro-benchmarks'])
    assert.ok(!handWritten?.includes(`\n${heading}\n`), `${heading} below the marker`);
});
