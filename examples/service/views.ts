/**
 * @module
 * A tiny template engine: templates are read from disk on every request (so the service reads
 * files from its views directory while serving), `{{name}}` is replaced HTML-escaped and
 * `{{{name}}}` raw (only for HTML this module rendered itself).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export type Vars = Record<string, string | number>;

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

export function fill(template: string, vars: Vars, raw: Vars = {}): string {
  return template.replace(
    /\{\{\{(\w+)\}\}\}|\{\{(\w+)\}\}/g,
    (_, rawName?: string, name?: string) =>
      rawName !== undefined
        ? String(raw[rawName] ?? '')
        : escapeHtml(String(vars[name ?? ''] ?? '')),
  );
}

/** Renders `views/<page>.html` inside `views/layout.html`; `raw` fills the page's `{{{name}}}`. */
export async function renderPage(
  viewsDir: string,
  page: string,
  vars: Vars & { title: string },
  raw: Vars = {},
): Promise<string> {
  const [layout, body] = await Promise.all([
    readFile(join(viewsDir, 'layout.html'), 'utf8'),
    readFile(join(viewsDir, `${page}.html`), 'utf8'),
  ]);
  return fill(layout, vars, { content: fill(body, vars, raw) });
}
