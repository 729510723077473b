/**
 * @module
 * What else the kernel checks when a program is executed: an ELF program's interpreter (the
 * dynamic loader, `PT_INTERP`), which Landlock requires execute rights on like the program itself,
 * and a script's `#!` interpreter. Read from the file's first bytes; nothing is run.
 */
import { closeSync, openSync, readSync } from 'node:fs';

const PT_INTERP = 3;
const HEAD = 4096;

/** The interpreter a file names: the ELF loader's path, the `#!` line's words, or nothing. */
export type Interpreter =
  | { readonly kind: 'elf'; readonly path: string }
  | { readonly kind: 'script'; readonly path: string; readonly argument: string | undefined }
  | { readonly kind: 'none' };

export function interpreterOf(file: string): Interpreter {
  let head: Buffer;
  try {
    head = readHead(file);
  } catch {
    return { kind: 'none' };
  }
  if (head.length >= 2 && head[0] === 0x23 && head[1] === 0x21) return shebang(head);
  if (head.length >= 64 && head.readUInt32BE(0) === 0x7f454c46) return elfInterpreter(file, head);
  return { kind: 'none' };
}

function readHead(file: string, position = 0, length = HEAD): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const n = readSync(fd, buffer, 0, length, position);
    return buffer.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** `#!/usr/bin/env node` → path `/usr/bin/env`, argument `node` (Linux passes one argument). */
function shebang(head: Buffer): Interpreter {
  const end = head.indexOf(0x0a);
  const line = head
    .subarray(2, end < 0 ? head.length : end)
    .toString('utf8')
    .trim();
  const space = line.search(/[ \t]/);
  if (line === '') return { kind: 'none' };
  if (space < 0) return { kind: 'script', path: line, argument: undefined };
  const argument = line.slice(space).trim();
  return { kind: 'script', path: line.slice(0, space), argument: argument || undefined };
}

/** 64-bit and 32-bit, little- and big-endian: the `PT_INTERP` segment's text. */
function elfInterpreter(file: string, head: Buffer): Interpreter {
  const is64 = head[4] === 2;
  const le = head[5] === 1;
  const u16 = (b: Buffer, at: number) => (le ? b.readUInt16LE(at) : b.readUInt16BE(at));
  const u32 = (b: Buffer, at: number) => (le ? b.readUInt32LE(at) : b.readUInt32BE(at));
  const u64 = (b: Buffer, at: number) => Number(le ? b.readBigUInt64LE(at) : b.readBigUInt64BE(at));
  const phoff = is64 ? u64(head, 0x20) : u32(head, 0x1c);
  const phentsize = u16(head, is64 ? 0x36 : 0x2a);
  const phnum = u16(head, is64 ? 0x38 : 0x2c);
  const table = readHead(file, phoff, phentsize * phnum);
  for (let i = 0; i < phnum; i++) {
    const at = i * phentsize;
    if (at + phentsize > table.length) break;
    if (u32(table, at) !== PT_INTERP) continue;
    const offset = is64 ? u64(table, at + 8) : u32(table, at + 4);
    const size = is64 ? u64(table, at + 32) : u32(table, at + 16);
    const text = readHead(file, offset, Math.min(size, 4096)).toString('latin1');
    const path = text.replace(/\0.*$/s, '');
    return path === '' ? { kind: 'none' } : { kind: 'elf', path };
  }
  return { kind: 'none' };
}
