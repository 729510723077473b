/**
 * @module
 * The runtime section as an AppArmor profile. AppArmor denies whatever a profile does not allow,
 * so the profile lists only what the policy grants: the Node.js binary, the files (leash globs
 * mapped to AppArmor globs), the socket families, and the programs the service starts, which run
 * under this same profile (`ix`) and so can do no more than the service itself.
 *
 * Globs: leash `*` (one path segment, not starting with `.`) becomes AppArmor `*` (one or more
 * characters without `/`, dot files included); a final `**` stays `**` (anything below, files and
 * directories); an inner `**` (zero or more directories) becomes `{,**\/}`. Literal text is
 * escaped (`\*`, `\?`, `\[`, `\]`, `\{`, `\}`, `\^`, `\@`, `\\`, `\"`, control characters as `\xHH`)
 * and the whole glob is quoted when it holds anything else a profile would read specially.
 */
import { realpathSync } from 'node:fs';
import { parseGlob, type Segment, WILDCARD } from '../../../core/kinds/glob.ts';
import type { Policy } from '../../../core/policy.ts';
import { LeashError } from '../../../errors.ts';
import { analyseCommand, resolveProgram } from './commands.ts';
import { type ExtraPaths, familiesOf, parseEndpointKey, runtimeGrants } from './grants.ts';

export interface AppArmorOptions extends ExtraPaths {
  /** The policy file as the header names it. */
  readonly source: string;
  /** The profile is `leash-<name>`; default `node-service`. */
  readonly name?: string;
  /** The Node.js binary the service runs on; default: this process's, through its links. */
  readonly node?: string;
  /** Where bare program names are looked up (PATH syntax); default: `$PATH`. */
  readonly searchPath?: string;
}

export const DEFAULT_PROFILE_NAME = 'node-service';
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function checkProfileName(name: string): void {
  if (!NAME.test(name)) {
    throw new LeashError(
      'ERR_LEASH_USAGE',
      `invalid profile name ${JSON.stringify(name)}: use letters, digits, '.', '_' and '-', starting with a letter or digit`,
    );
  }
}

export function compileAppArmorProfile(policy: Policy, options: AppArmorOptions): string {
  const name = options.name ?? DEFAULT_PROFILE_NAME;
  checkProfileName(name);
  const profile = `leash-${name}`;
  const grants = runtimeGrants(policy);
  const searchPath = options.searchPath ?? process.env.PATH ?? '';
  const node = options.node ?? realpathSync(process.execPath);
  const seen = new Set<string>();
  const body: string[] = [];
  const section = (title: string, rules: readonly string[]) => {
    const fresh = rules.filter((r) => r.startsWith('#') || !seen.has(r));
    for (const r of fresh) seen.add(r);
    if (fresh.length > 0) body.push('', `  # ${title}`, ...fresh.map((r) => `  ${r}`));
  };

  section('Node.js', [
    `${aaPath(node)} mrix,`,
    '/sys/fs/cgroup/** r,',
    '@{PROC}/@{pid}/{cgroup,stat,statm} r,',
  ]);

  const writes = grants['fs.write'];
  const writeRules = writes.flatMap((glob) => {
    const parent = parentDirectory(glob);
    return [fileRule(glob, 'rw'), ...(parent === undefined ? [] : [`${parent} rw,`])];
  });
  const readRules = grants['fs.read']
    .filter((g) => !writes.includes(g))
    .map((glob) => fileRule(glob, 'r'));
  // Rules granting more come first, so that a read of a written path is not listed twice.
  section('fs.write (and each directory, to create it)', writeRules);
  section('fs.read', readRules);
  section(
    'worker.start',
    grants['worker.start'].map((glob) => fileRule(glob, 'r')),
  );
  section(
    'addon.load',
    grants['addon.load'].map((glob) => fileRule(glob, 'mr')),
  );

  // --- child processes ---------------------------------------------------------------------
  const commands = grants['child.spawn'].map(analyseCommand);
  if (commands.length > 0) {
    const rules: string[] = [];
    const comments: string[] = [];
    const programs = new Map<string, string[]>();
    for (const command of commands) {
      for (const program of command.programs) {
        const resolved = resolveProgram(program, searchPath);
        if (resolved === undefined) {
          comments.push(
            `# ${oneLine(program)} (in ${oneLine(command.key)}) was not found on PATH at export time: add "<its path> ix," here`,
          );
        } else programs.set(resolved, [...(programs.get(resolved) ?? []), command.key]);
      }
      for (const wrapper of command.wrappers) {
        comments.push(
          `# ${oneLine(wrapper)} runs other programs, which leash does not know: add them with ix`,
        );
      }
      if (command.unknownProgram)
        comments.push(`# ${oneLine(command.key)}: a program name comes from an expansion`);
    }
    const sh = resolveProgram('/bin/sh', searchPath) ?? '/bin/sh';
    const shell = commands.filter((c) => c.shell);
    if (shell.length > 0) {
      programs.set(sh, [...(programs.get(sh) ?? []), ...shell.map((c) => c.key)]);
    }
    for (const program of [...programs.keys()].sort()) {
      for (const key of [...new Set(programs.get(program))]) rules.push(`# ${oneLine(key)}`);
      rules.push(`${aaPath(program)} ix,`);
    }
    if (shell.length === 0) {
      rules.push(
        `# if the service starts these through a shell (exec(), shell: true), add: ${aaPath(sh)} ix,`,
      );
    }
    section(
      'child.spawn: these programs run under this profile (ix); leash checks their arguments',
      [...rules, ...comments],
    );
    const paths = [...new Set(commands.flatMap((c) => c.paths))].sort();
    section(
      'paths in the command lines (leash does not know whether the programs read or write them)',
      paths.map((glob) => fileRule(glob, 'rw')),
    );
  }

  // --- network -----------------------------------------------------------------------------
  const endpoints = [...grants['net.connect'], ...grants['net.listen']].map(parseEndpointKey);
  const named = endpoints.some((e) => e.host !== undefined && e.ip === undefined);
  const dns = grants['dns.lookup'].length > 0 || named;
  const families = familiesOf(endpoints, false);
  const network: string[] = [];
  if (families.v4) network.push('network inet stream,');
  if (families.v6) network.push('network inet6 stream,');
  if (network.length > 0) {
    network.push(
      '# AppArmor filters by family and type, not by address or port: leash checks those.',
    );
  }
  section('net.connect, net.listen', network);
  if (dns) {
    section(
      'dns.lookup and host names: the resolver configuration, NSS modules and their sockets',
      ['#include <abstractions/nameservice>'],
    );
  }

  // --- leash --------------------------------------------------------------------------------
  section('leash itself', [
    ...(options.extraWrite ?? []).map((glob) => fileRule(glob, 'rw')),
    ...(options.extraRead ?? []).map((glob) => fileRule(glob, 'r')),
  ]);

  if (grants['env.read'].length > 0 || grants['wasi.start'].length > 0) {
    body.push('', '  # env.read and wasi.start have no AppArmor equivalent: leash checks them.');
  }

  return [
    `# Generated by leash from ${oneLine(options.source)}; regenerate with \`leash export apparmor\`.`,
    `# Load: sudo apparmor_parser -r <this file>. Use: AppArmorProfile=${profile} in the systemd`,
    `# unit, or aa-exec -p ${profile} -- node server.js.`,
    'abi <abi/3.0>,',
    '',
    '#include <tunables/global>',
    '',
    `profile ${profile} flags=(attach_disconnected) {`,
    '  #include <abstractions/base>',
    ...body,
    '}',
    '',
  ].join('\n');
}

/** A file rule for a leash glob; a glob that may name a directory also matches it as one. */
function fileRule(glob: string, perms: string): string {
  const segments = parseGlob(glob).segments;
  const last = segments[segments.length - 1];
  const asDirectory = last === undefined || last.kind === 'globstar' ? '' : '{,/}';
  return `${aaGlob(segments, asDirectory)} ${perms},`;
}

/** The AppArmor directory rule (ending in `/`) of a glob's parent, or undefined for `/`. */
function parentDirectory(glob: string): string | undefined {
  const segments = parseGlob(glob).segments;
  if (segments.length < 2) return undefined;
  return aaGlob(segments.slice(0, -1), '/');
}

/**
 * Converts parsed leash segments to an AppArmor glob, then `suffix` (AppArmor syntax), quoted
 * when a literal name holds a character a profile would read specially.
 */
export function aaGlob(segments: readonly Segment[], suffix = ''): string {
  let out = '';
  let quote = false;
  let separated = false;
  segments.forEach((segment, i) => {
    const last = i === segments.length - 1;
    if (segment.kind === 'globstar') {
      // A final ** is one or more segments; an inner one zero or more directories.
      if (last) out += separated ? '**' : '/**';
      else if (!separated) out += '/{,**/}';
      separated = !last;
      return;
    }
    let text = '';
    for (const part of segment.parts) {
      if (part === WILDCARD) text += '*';
      else {
        quote ||= needsQuotes(part);
        text += aaEscape(part);
      }
    }
    // After an inner `{,**/}` the separator is already there.
    out += separated ? text : `/${text}`;
    separated = false;
  });
  if (out === '') out = '/';
  if (suffix === '/' && out.endsWith('/')) suffix = '';
  return quote ? `"${out}${suffix}"` : `${out}${suffix}`;
}

/** A literal absolute path as an AppArmor glob. */
export function aaPath(path: string): string {
  const text = aaEscape(path);
  return needsQuotes(path) ? `"${text}"` : text;
}

/** Escapes literal text for an AppArmor glob. */
export function aaEscape(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if ('\\"*?[]{}^@'.includes(ch)) out += `\\${ch}`;
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out;
}

/** Whether literal text needs the glob quoted: whitespace, `,`, `#`, quotes, parentheses … */
function needsQuotes(text: string): boolean {
  return !/^[A-Za-z0-9_/.+:~%@*?[\]{}^\\-]*$/.test(text);
}

function oneLine(text: string): string {
  return text.replace(/[\r\n]/g, (c) => (c === '\n' ? '\\n' : '\\r'));
}
