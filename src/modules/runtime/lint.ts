/**
 * @module
 * Lint of the runtime section for grants that are broad in ways a key's own breadth check cannot
 * see, because they depend on where the app, the temp directory and the policy file are: a write
 * anywhere in the temp directory's root, a `**` write, a grant over the app's own files or over
 * secrets, a `@background` grant that is the union of many routes (a zip-slip upload handled by a
 * background job then writes wherever any route may). Each finding carries a `LEASHWRN` code.
 */
import { posix } from 'node:path';
import { BACKGROUND, LOADER } from '../../attribution/scope.ts';
import type { PolicyTree } from '../../core/tree.ts';
import { rules } from '../../core/tree.ts';
import type { LintContext, ModuleLintFinding } from '../../module/module.ts';
import { coded, type WarningCode } from '../../warnings.ts';
import { CAPABILITIES } from './capabilities.ts';

const path = CAPABILITIES['fs.read'].resource;
const PATH_CAPABILITIES = new Set(['fs.read', 'fs.write']);
/** Routes whose grants one `@background` rule covers before it counts as their union. */
const UNION_ROUTES = 3;
const PROBE = 'leash-lint-probe';

/** The literal directory above a pattern's first wildcard (`/data/u` for `/data/u/*.png`). */
function literalDir(pattern: string): string {
  const segments = pattern.split('/');
  const first = segments.findIndex((s) => s.includes('*'));
  return segments.slice(0, first === -1 ? segments.length - 1 : first).join('/') || '/';
}

/** Paths a pattern would grant if it reaches into `dir`: a file there and one a level deeper. */
function probes(dir: string, names: readonly string[]): string[] {
  return names.flatMap((name) => [posix.join(dir, name), posix.join(dir, PROBE, name)]);
}

const grants = (key: string, candidates: readonly string[]): boolean =>
  candidates.some((candidate) => path.matches(key, candidate));

function isSecretFile(file: string): boolean {
  const base = posix.basename(file);
  return base === '.env' || base.startsWith('.env.') || /\.(key|pem)$/.test(base);
}

const SECRET_DIRS = new Set(['certs', 'keys', 'ssl', 'tls', 'secrets', 'private', '.ssh']);

/** `*.pem`, `*.key`, or any wildcard in a directory named for keys (`certs/*`). */
function isSecretPattern(key: string): boolean {
  const last = key.slice(key.lastIndexOf('/') + 1);
  if (/\.(key|pem)$/.test(last)) return true;
  return literalDir(key)
    .split('/')
    .some((segment) => SECRET_DIRS.has(segment));
}

export function lintRuntime(tree: PolicyTree, context: LintContext): ModuleLintFinding[] {
  const out: ModuleLintFinding[] = [];
  const warn = (rule: readonly string[], code: WarningCode, message: string) =>
    out.push({ path: rule, message: coded(code, message), warning: true });
  const all = rules(tree).filter((rule) => PATH_CAPABILITIES.has(rule[2] ?? ''));

  for (const rule of all) {
    const [scope, pkg, capability, key] = rule as [string, string, string, string];
    const write = capability === 'fs.write';
    const pattern = path.isPattern(key);
    const loader = scope === LOADER || pkg === 'node';

    // Wherever the app is: an app checked out in the temp directory has its own rules below it.
    if (write && pattern) {
      const dir = literalDir(key);
      if (dir === context.tmpDir || grants(key, probes(context.tmpDir, [PROBE]))) {
        warn(
          rule,
          'LEASHWRN007',
          `writes anywhere in the temp directory's root ${context.tmpDir}, shared with every other process; give the service a directory of its own (mkdtemp) and learn again`,
        );
      }
    }
    if (write && key.split('/').includes('**')) {
      warn(rule, 'LEASHWRN008', 'writes to any depth (**): name the directories it writes to');
    }
    if (pattern && !loader && grants(key, probes(context.appRoot, ['package.json', 'index.js']))) {
      warn(
        rule,
        'LEASHWRN009',
        `${write ? 'writes' : 'reads'} the app's own files (${context.appRoot}): a route ${write ? 'that can change the code runs the attacker’s next' : 'that reads them can leak them'}`,
      );
    }
    const secret =
      key === path.key(context.policyFile) ||
      (!pattern && isSecretFile(key)) ||
      (pattern && (grants(key, [context.policyFile]) || isSecretPattern(key)));
    // Reading configuration at start-up (dotenv, a TLS key) is what start-up is for.
    if (secret && !loader && (write || scope !== '@startup')) {
      warn(
        rule,
        'LEASHWRN010',
        `${write ? 'writes' : 'reads'} secrets (.env, *.key, *.pem or the policy file ${context.policyFile})`,
      );
    }
  }

  for (const rule of all.filter((r) => r[0] === BACKGROUND && path.isPattern(r[3]!))) {
    const [, , capability, key] = rule as [string, string, string, string];
    const routes = new Set(
      all
        .filter((r) => r[2] === capability && !r[0]!.startsWith('@') && r[3] !== key)
        .filter((r) => path.covers(key, r[3]!))
        .map((r) => r[0]!),
    );
    if (routes.size >= UNION_ROUTES) {
      warn(
        rule,
        'LEASHWRN011',
        `@background ${capability} covers what ${routes.size} routes each do (${[...routes].sort().join(', ')}): work outside requests holds the union of their privileges; find the job and give it its own, narrower rule`,
      );
    }
  }
  return out;
}
