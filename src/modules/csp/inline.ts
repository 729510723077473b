/**
 * @module
 * Hashes of the inline code in a page, read with a real HTML parser (parse5) as the browser
 * reads it: the text of each inline `<script>` (JavaScript types only, no `src`) and `<style>`,
 * each inline event handler (`onclick="…"`) and each `style="…"` attribute. CSP hashes the
 * element's text after HTML parsing (newlines normalised, entities decoded in attributes), which
 * is what parse5 gives. parse5 is loaded when a page is first read, which only learning does.
 */
import { createHash } from 'node:crypto';
import { lazy, loadNow } from '../../lazy.ts';

/** parse5's `parse`, loaded when a page is first read (while learning), never before. */
const parser = lazy(() => loadNow<typeof import('parse5')>('parse5').parse);

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
  const stack: Node[] = [parser()(html) as unknown as Node];
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

/** A resource the page's own HTML (or a stylesheet) loads, with the directive that governs it. */
export interface Reference {
  readonly directive: 'script-src' | 'style-src' | 'img-src' | 'font-src';
  /** As written in the page (relative or absolute). */
  readonly url: string;
}

const IMAGE_LINKS = new Set(['icon', 'shortcut', 'apple-touch-icon']);

/**
 * What the page's HTML loads by itself: `<script src>`, `<link rel="stylesheet" href>`, `<img
 * src>`, icon links, and the `url()`s of its inline styles (`<style>`, `style="…"`). Learned from
 * the HTML while learning, so a page no browser visited is not enforced as if it loaded nothing.
 */
export function referencedUrls(html: string): Reference[] {
  const out: Reference[] = [];
  const stack: Node[] = [parser()(html) as unknown as Node];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const attr = (name: string) => node.attrs?.find((a) => a.name === name)?.value.trim();
    if (node.nodeName === 'script') {
      const src = attr('src');
      if (src) out.push({ directive: 'script-src', url: src });
    } else if (node.nodeName === 'link') {
      const rel = (attr('rel') ?? '').toLowerCase().split(/\s+/);
      const href = attr('href');
      if (href && rel.includes('stylesheet')) out.push({ directive: 'style-src', url: href });
      else if (href && rel.some((r) => IMAGE_LINKS.has(r)))
        out.push({ directive: 'img-src', url: href });
    } else if (node.nodeName === 'img') {
      const src = attr('src');
      if (src) out.push({ directive: 'img-src', url: src });
    } else if (node.nodeName === 'style') {
      out.push(...cssReferences(textOf(node)));
    }
    const style = node.attrs?.find((a) => a.name.toLowerCase() === 'style')?.value;
    if (style) out.push(...cssReferences(style));
    if (node.content !== undefined) stack.push(node.content);
    for (const child of node.childNodes ?? []) stack.push(child);
  }
  return out;
}

const MAX_CSS_REFERENCES = 1000;
const URL_FUNCTION = /url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)/gi;
const IMPORT = /@import\s+(?:url\(\s*)?(?:"([^"]*)"|'([^']*)'|([^)'";\s]+))/gi;
const FONT_FACE = /@font-face\s*\{[^}]*\}/gi;

/**
 * What a stylesheet (or an inline style) loads: `@import` (style-src), the `url()`s of
 * `@font-face` (font-src) and every other `url()` (img-src: backgrounds, list markers, cursors,
 * masks). A `url(#id)` names an element of the page and loads nothing. A scan, not a parser: a
 * `url(` inside a string of another property is taken too, which at worst allows the page's own
 * origin for one more directive.
 */
export function cssReferences(css: string): Reference[] {
  const out: Reference[] = [];
  const push = (directive: Reference['directive'], url: string | undefined) => {
    const trimmed = url?.trim() ?? '';
    if (trimmed === '' || trimmed.startsWith('#') || out.length >= MAX_CSS_REFERENCES) return;
    out.push({ directive, url: trimmed });
  };
  let rest = css.replace(/\/\*[\s\S]*?\*\//g, ' ');
  for (const m of rest.matchAll(IMPORT)) push('style-src', m[1] ?? m[2] ?? m[3]);
  rest = rest.replace(IMPORT, ' ');
  rest = rest.replace(FONT_FACE, (block) => {
    for (const m of block.matchAll(URL_FUNCTION)) push('font-src', m[1] ?? m[2] ?? m[3]);
    return ' ';
  });
  for (const m of rest.matchAll(URL_FUNCTION)) push('img-src', m[1] ?? m[2] ?? m[3]);
  return out;
}
