/**
 * @module
 * "Did you mean" for names a person typed: the closest known name within a few edits.
 */
import leven, { closestMatch } from 'leven';

/** ` (did you mean "mode"?)`, or '' when no known name is close enough to be the one meant. */
export function didYouMean(typed: string, known: readonly string[]): string {
  // About a third of the name, 1 to 3 edits: `runtme` → `runtime`, `mod` → `mode`, `csp` ↛ `sql`.
  const maxDistance = Math.min(3, Math.max(1, Math.floor(typed.length / 3)));
  const match = closestMatch(typed.toLowerCase(), known);
  if (match === undefined || leven(typed.toLowerCase(), match.toLowerCase()) > maxDistance) {
    return '';
  }
  return ` (did you mean ${JSON.stringify(match)}?)`;
}
