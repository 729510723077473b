/**
 * @module
 * What an exporter can learn from a `child.spawn` rule (a command line template, see the command
 * kind): the programs it starts, the paths its `{path:…}` placeholders and literal absolute
 * arguments name, and whether only a shell can run it (operators, redirections, expansions).
 * Programs named without a `/` are looked up on PATH at export time, as `execvp` would at run
 * time, and resolved through symbolic links (AppArmor sees the real file).
 */
import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { parse as shellParse } from 'shell-quote';
import { CONTROL_OPS, REDIRECT_OPS, RESERVED, WRAPPERS } from '../../../core/kinds/command.ts';
import { escapePath } from '../../../core/kinds/glob.ts';

export interface CommandInfo {
  readonly key: string;
  /** Program words as written (`tar`, `/usr/bin/tar`), in order. */
  readonly programs: readonly string[];
  /** Leash path globs named by `{path:…}` placeholders and by literal absolute arguments. */
  readonly paths: readonly string[];
  /** Whether the template uses shell syntax, so that it can only run through `/bin/sh`. */
  readonly shell: boolean;
  /** Programs that run other programs (`sh -c`, `env`, `xargs` …), whose targets are unknown. */
  readonly wrappers: readonly string[];
  /** Set when a program position holds an expansion or glob: the program is not known. */
  readonly unknownProgram: boolean;
}

// `find` runs other programs through -exec; the command kind handles it on its own.
const RUNS_OTHERS = new Set([...WRAPPERS, 'find']);
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;
const BOUNDARY = /[\s;&|()<>]/;
const PLACEHOLDER = '\uE000';
const EXPANSION = '\uE001';

/** Reads a canonical `child.spawn` key (a template). */
export function analyseCommand(key: string): CommandInfo {
  const { text, placeholders } = markPlaceholders(key);
  const programs: string[] = [];
  const paths: string[] = [];
  const wrappers: string[] = [];
  let shell = false;
  let unknownProgram = false;
  let program = true;
  let redirect = false;
  let entries: ReturnType<typeof shellParse>;
  try {
    entries = shellParse(text, (name: string) => `${EXPANSION}${name}${EXPANSION}`);
  } catch {
    return { key, programs, paths, shell: true, wrappers, unknownProgram: true };
  }
  const placeholderWord = new RegExp(`^${PLACEHOLDER}(\\d+)${PLACEHOLDER}$`);
  for (const entry of entries) {
    if (typeof entry !== 'string') {
      shell = true;
      if ('comment' in entry) break;
      const op = (entry as { op?: string }).op ?? '';
      if (op === 'glob') {
        if (program) unknownProgram = true;
        program = false;
      } else if (CONTROL_OPS.has(op)) program = true;
      else if (REDIRECT_OPS.has(op)) redirect = true;
      continue;
    }
    const marked = placeholderWord.exec(entry);
    if (marked !== null) {
      const source = placeholders[Number(marked[1])];
      if (source !== undefined) paths.push(source);
      redirect = false;
      program = false;
      continue;
    }
    if (entry.includes(EXPANSION) || entry.includes(PLACEHOLDER)) {
      shell = true;
      if (program) unknownProgram = true;
      program = redirect = false;
      continue;
    }
    if (redirect) {
      redirect = false;
      if (isAbsolute(entry)) paths.push(escapePath(entry));
      continue;
    }
    if (program) {
      if (ASSIGNMENT.test(entry) || RESERVED.has(entry)) {
        shell = true;
        continue;
      }
      programs.push(entry);
      if (RUNS_OTHERS.has(entry.slice(entry.lastIndexOf('/') + 1))) wrappers.push(entry);
      program = false;
      continue;
    }
    if (isAbsolute(entry)) paths.push(escapePath(entry));
  }
  return { key, programs, paths: [...new Set(paths)], shell, wrappers, unknownProgram };
}

/**
 * Replaces each placeholder that is a whole unquoted word by a marker word; `{path:G}` records G.
 * `{num}` and `{arg}` record nothing (they stand for plain words).
 */
function markPlaceholders(key: string): { text: string; placeholders: Array<string | undefined> } {
  const placeholders: Array<string | undefined> = [];
  let out = '';
  let wordStart = true;
  let i = 0;
  const mark = (source: string | undefined) => {
    out += `${PLACEHOLDER}${placeholders.length}${PLACEHOLDER}`;
    placeholders.push(source);
  };
  while (i < key.length) {
    const c = key[i]!;
    if (BOUNDARY.test(c)) {
      out += c;
      wordStart = true;
      i++;
      continue;
    }
    if (wordStart && c === '{') {
      if (key.startsWith('{num}', i) || key.startsWith('{arg}', i)) {
        mark(undefined);
        i += 5;
        wordStart = false;
        continue;
      }
      if (key.startsWith('{path:', i)) {
        let j = i + 6;
        while (j < key.length && key[j] !== '}') j += key[j] === '\\' ? 2 : 1;
        mark(key.slice(i + 6, j));
        i = j + 1;
        wordStart = false;
        continue;
      }
    }
    wordStart = false;
    let next = i + 1;
    if (c === '\\') next = i + 2;
    else if (c === "'") next = closing(key, i + 1, "'", false);
    else if (c === '"') next = closing(key, i + 1, '"', true);
    else if (c === '$' && key[i + 1] === "'") next = closing(key, i + 2, "'", true);
    out += key.slice(i, next);
    i = next;
  }
  return { text: out, placeholders };
}

function closing(text: string, from: number, close: string, escapes: boolean): number {
  for (let j = from; j < text.length; j++) {
    if (escapes && text[j] === '\\') j++;
    else if (text[j] === close) return j + 1;
  }
  return text.length;
}

/**
 * Where a program runs from: an absolute name through its symbolic links (kept as written when
 * it does not exist here), a bare name searched on `searchPath` (PATH syntax), `undefined` for a
 * relative name (it depends on the service's working directory) or a name not found.
 */
export function resolveProgram(program: string, searchPath: string): string | undefined {
  if (program.includes('/')) {
    if (!isAbsolute(program)) return undefined;
    try {
      return realpathSync(program);
    } catch {
      return program;
    }
  }
  for (const dir of searchPath.split(':')) {
    if (!isAbsolute(dir)) continue; // an empty or relative entry depends on the working directory
    const candidate = join(dir, program);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return realpathSync(candidate);
    } catch {}
  }
  return undefined;
}
