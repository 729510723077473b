/**
 * @module
 * BENCHMARKS.md is two parts: the report `npm run bench` generates, then the sections written by
 * hand after a run (why targets were missed, figures measured by hand). One line between them, the
 * marker, says where the generated part ends; a run rewrites what is above it and keeps the marker
 * and everything below it as they are.
 */

/** The line that ends the generated part of BENCHMARKS.md (an HTML comment: not rendered). */
export const HAND_WRITTEN_MARKER = '<!-- hand-written below: npm run bench keeps what follows -->';

/** A document cut at the marker line: `handWritten` is what follows it, undefined with no marker. */
export interface Parts {
  generated: string;
  handWritten: string | undefined;
}

/** Cuts a document at its first marker line (the whole line, trailing spaces allowed). */
export function splitAtMarker(text: string): Parts {
  const lines = text.split('\n');
  const at = lines.findIndex((line) => line.trimEnd() === HAND_WRITTEN_MARKER);
  if (at < 0) return { generated: text, handWritten: undefined };
  return {
    generated: lines.slice(0, at).join('\n'),
    handWritten: lines.slice(at + 1).join('\n'),
  };
}

/** The generated part, a blank line, the marker, then the hand-written part byte for byte. */
export function joinAtMarker(generated: string, handWritten: string): string {
  return `${generated.trimEnd()}\n\n${HAND_WRITTEN_MARKER}\n${handWritten}`;
}

/**
 * A freshly generated report with the hand-written part of the file it replaces (`existing`,
 * undefined when there is no file yet). `lost` is true when the existing file has no marker: its
 * text is dropped, as before the marker, and the new file gets the marker for the next run.
 */
export function withHandWritten(
  generated: string,
  existing: string | undefined,
): { text: string; lost: boolean } {
  const handWritten = existing === undefined ? undefined : splitAtMarker(existing).handWritten;
  return {
    text: joinAtMarker(generated, handWritten ?? ''),
    lost: existing !== undefined && handWritten === undefined,
  };
}
