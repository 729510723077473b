/**
 * @module
 * Hashes of the inline code in a page, read with a real HTML parser (parse5) as the browser
 * reads it: the text of each inline `<script>` (JavaScript types only, no `src`) and `<style>`,
 * each inline event handler (`onclick="…"`) and each `style="…"` attribute. CSP hashes the
 * element's text after HTML parsing (newlines normalised, entities decoded in attributes), which
 * is what parse5 gives.
 */
import { createHash } from 'node:crypto';
import { parse } from 'parse5';

export interface InlineHashes {
  /** `<script>` blocks → script-src. */
  readonly scripts: string[];
  /** `<style>` blocks → style-src. */
  readonly styles: string[];
  /** Event handler attributes → script-src with 'unsafe-hashes'. */
  readonly handlers: string[];
  /** `style` attributes → style-src with 'unsafe-hashes'. */
  readonly styleAttributes: string[];
}

interface Node {
  readonly nodeName: string;
  readonly attrs?: ReadonlyArray<{ readonly name: string; readonly value: string }>;
  readonly childNodes?: readonly Node[];
  readonly content?: Node;
  readonly value?: string;
}

const JS_TYPES = new Set([
  '',
  'module',
  'text/javascript',
  'application/javascript',
  'text/ecmascript',
  'application/ecmascript',
]);

export function sha256Source(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

function textOf(node: Node): string {
  return (node.childNodes ?? []).map((child) => child.value ?? '').join('');
}

/**
 * `nonce`: the response's nonce. Code carrying it is allowed by the nonce in every response, and
 * its text may change with each one (a timestamp, a user's data): hashing it would learn a hash
 * per response that never comes back.
 */
export function inlineHashes(html: string, nonce?: string): InlineHashes {
  const out: InlineHashes = { scripts: [], styles: [], handlers: [], styleAttributes: [] };
  const seen = new Set<string>();
  const push = (list: string[], text: string, tag: string) => {
    const hash = sha256Source(text);
    if (seen.has(tag + hash)) return;
    seen.add(tag + hash);
    list.push(hash);
  };
  const stack: Node[] = [parse(html) as unknown as Node];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const attrs = node.attrs ?? [];
    for (const attr of attrs) {
      if (/^on[a-z]+$/i.test(attr.name)) push(out.handlers, attr.value, 'h');
      else if (attr.name.toLowerCase() === 'style') push(out.styleAttributes, attr.value, 'a');
    }
    const nonced =
      nonce !== undefined && attrs.some((a) => a.name === 'nonce' && a.value === nonce);
    if (node.nodeName === 'script') {
      const src = attrs.some((a) => a.name === 'src');
      const type =
        attrs
          .find((a) => a.name === 'type')
          ?.value.trim()
          .toLowerCase() ?? '';
      if (!src && !nonced && JS_TYPES.has(type)) push(out.scripts, textOf(node), 's');
      continue;
    }
    if (node.nodeName === 'style') {
      if (!nonced) push(out.styles, textOf(node), 'c');
      continue;
    }
    if (node.content !== undefined) stack.push(node.content);
    for (const child of node.childNodes ?? []) stack.push(child);
  }
  return out;
}
