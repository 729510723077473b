import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fc } from '../../../test/support/fast-check.ts';
import { type Glob, globRegex, parseGlob, segmentMatches } from './glob.ts';

// The fast matchers must agree with the one definition a reviewer can read: the anchored RegExp.
const SEED = 20261206;
// A small alphabet makes overlapping literals (`*a*a` against `xa`) likely.
const char = fc.constantFrom('a', 'b', '.', '*', '*');

test('segment matching without a RegExp agrees with the compiled glob on every name', () => {
  fc.assert(
    fc.property(
      fc.array(char, { minLength: 1, maxLength: 7 }),
      fc.array(fc.constantFrom('a', 'b', '.'), { maxLength: 6 }),
      (patternChars, nameChars) => {
        const pattern = patternChars.join('').replace(/\*{2,}/g, '*');
        const name = nameChars.join('');
        let glob: Glob;
        try {
          glob = parseGlob(`/${pattern}`);
        } catch {
          return; // '.' and '..' are not patterns
        }
        const segment = glob.segments[0]!;
        const expected = name !== '' && globRegex(glob).test(`/${name}`);
        assert.equal(
          name !== '' && segmentMatches(segment, name),
          expected,
          `${pattern} ~ ${name}`,
        );
      },
    ),
    { seed: SEED, numRuns: 20000 },
  );
});

test('plain paths parse the same on the fast path as through the full parser', () => {
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom('a', '/', '.', 'x', ' ', '-'), { maxLength: 12 }),
      (chars) => {
        const source = `/${chars.join('')}`;
        const outcome = (text: string, drop: number) => {
          try {
            const glob = parseGlob(text);
            return JSON.stringify([glob.segments.slice(drop), glob.isPattern]);
          } catch (error) {
            return `error: ${(error as Error).message.replace('/\\\\q', '')}`;
          }
        };
        // An escaped first segment forces the character-by-character parser for the same tail.
        if (source === '/') return;
        const fast = outcome(source, 0);
        const full = outcome(`/\\q${source}`, 1);
        assert.equal(
          fast.startsWith('error') ? 'error' : fast,
          full.startsWith('error') ? 'error' : full,
        );
      },
    ),
    { seed: SEED, numRuns: 5000 },
  );
});
