/**
 * @module
 * `leash policy show | diff | merge | simplify | lint | review`.
 */

import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { lintPolicy } from '../../core/lint.ts';
import * as policy from '../../core/policy.ts';
import * as tree from '../../core/tree.ts';
import { widen } from '../../core/widen.ts';
import { LeashError } from '../../errors.ts';
import { groupRoutes } from '../../isolate/groups.ts';
import { writeFileAtomicSync } from '../../store/atomic-write.ts';
import { createFileStore } from '../../store/file-store.ts';
import { serializePolicy } from '../../store/policy-file.ts';
import type { ViolationRecord } from '../../store/store.ts';
import { type CliContext, cliContext, display, policyPath, readPolicyFile } from '../context.ts';
import { coverageReport } from '../learn-summary.ts';
import { paint, renderPolicy, renderRules } from '../render.ts';
import { violationId } from '../violation-id.ts';
import { describeGroups } from './isolate.ts';

interface Globals {
  config?: string;
}

async function contextOf(command: Command): Promise<CliContext> {
  return cliContext(command.optsWithGlobals<Globals>());
}

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function registerPolicyCommands(program: Command): void {
  const group = program
    .command('policy')
    .description('read, compare, combine and review policy files');

  group
    .command('show')
    .description('print the policy as a readable tree')
    .argument('[file]', 'policy file (default: from config, else leash.policy.json)')
    .option('-m, --module <name>', 'only this module')
    .option('-s, --scope <scope>', 'only this scope (route) or page')
    .option(
      '-c, --coverage',
      'rules and scopes per module, and every SQL slot still exact (too few distinct values seen)',
    )
    .option(
      '-g, --groups',
      'the worker groups `leash enforce --isolate` makes of this policy (with the config’s isolate settings)',
    )
    .action(
      async (
        file: string | undefined,
        options: { module?: string; scope?: string; groups?: boolean; coverage?: boolean },
        command: Command,
      ) => {
        const context = await contextOf(command);
        if (options.coverage === true) {
          const shown = policyPath(context, file);
          out(
            coverageReport(
              readPolicyFile(context, shown),
              display(context, shown),
              context.config.simplify.threshold,
            ),
          );
          return;
        }
        if (options.groups === true) {
          const p = readPolicyFile(context, policyPath(context, file));
          const { maxGroups, together, loginRoutes } = context.config.isolate;
          out(describeGroups(groupRoutes(p, maxGroups, together, loginRoutes), { grants: true }));
          return;
        }
        if (options.module !== undefined && !context.modules.has(options.module)) {
          throw usage(
            `unknown module ${JSON.stringify(options.module)} (known: ${[...context.modules.keys()].join(', ')})`,
          );
        }
        const p = readPolicyFile(context, policyPath(context, file));
        out(renderPolicy(p, context.modules, options));
      },
    );

  group
    .command('diff')
    .description('list what B grants that A does not; exit 1 when there is any (a CI gate)')
    .argument('<a>', 'the reference policy (e.g. the committed one)')
    .argument('<b>', 'the policy to compare')
    .option('--json', 'print the added and removed rules as JSON')
    .action(async (a: string, b: string, options: { json?: boolean }, command: Command) => {
      const context = await contextOf(command);
      const d = policy.diff(readPolicyFile(context, a), readPolicyFile(context, b));
      const added = policy.allRules(d.added);
      const removed = policy.allRules(d.removed);
      if (options.json) {
        out(JSON.stringify({ added: added.map(toJson), removed: removed.map(toJson) }, null, 2));
      } else if (added.length === 0) {
        out(
          `${b} grants nothing that ${a} does not${removed.length > 0 ? ` (it drops ${removed.length} rule${removed.length === 1 ? '' : 's'})` : ''}`,
        );
      } else {
        out(`${b} grants ${added.length} rule${added.length === 1 ? '' : 's'} that ${a} does not:`);
        out(renderRules(added).replace(/^/gm, `  ${paint('green', '+')} `));
        if (removed.length > 0)
          out(
            `and drops ${removed.length}:\n${renderRules(removed).replace(/^/gm, `  ${paint('red', '-')} `)}`,
          );
      }
      process.exitCode = added.length > 0 ? 1 : 0;
    });

  group
    .command('merge')
    .description('write the union of several policies')
    .argument('<files...>', 'policies to merge')
    .requiredOption('-o, --output <file>', 'where to write the merged policy')
    .action(async (files: string[], options: { output: string }, command: Command) => {
      const context = await contextOf(command);
      const merged = files
        .map((f) => readPolicyFile(context, f))
        .reduce(policy.merge, policy.emptyPolicy());
      writeFileAtomicSync(
        policyPath(context, options.output),
        serializePolicy(merged, context.locality),
      );
      out(`wrote ${options.output}: ${policy.countRules(merged)} rules from ${files.length} files`);
    });

  group
    .command('widen')
    .description(
      'widen one rule by hand: an SQL slot to any value, a file path to its directory (in place)',
    )
    .argument('<module>', 'the policy section: sql or runtime')
    .argument(
      '<keys...>',
      'the rule down to the slot (scope template $n) or the path (scope package capability path)',
    )
    .option('-f, --file <file>', 'policy file (default: from config)')
    .action(
      async (module: string, keys: string[], options: { file?: string }, command: Command) => {
        const context = await contextOf(command);
        const source = policyPath(context, options.file);
        const store = createFileStore({
          file: source,
          modules: context.modules,
          locality: context.locality,
        });
        let from: readonly string[] = [];
        let to = '';
        store.update((current) => {
          const tree = current.modules.get(module);
          if (tree === undefined)
            throw new LeashError(
              'ERR_LEASH_USAGE',
              `${display(context, source)} has no ${module} section`,
            );
          const widened = widen(tree, keys, context.config.simplify);
          ({ from, to } = widened);
          const modules = new Map(current.modules);
          modules.set(module, widened.tree);
          return { ...current, modules };
        });
        out(
          `${display(context, source)}: widened ${module} › ${keys.join(' › ')}: ${from.join(', ')} → ${to}`,
        );
      },
    );

  group
    .command('simplify')
    .description('generalise sibling rules with the safe collapse rules (in place unless -o)')
    .argument('[file]', 'policy file (default: from config)')
    .option('-o, --output <file>', 'write here instead of in place')
    .option('-t, --threshold <n>', 'distinct siblings needed to collapse', parseThreshold)
    .action(
      async (
        file: string | undefined,
        options: { output?: string; threshold?: number },
        command: Command,
      ) => {
        const context = await contextOf(command);
        const simplifyOptions = {
          ...context.config.simplify,
          ...(options.threshold ? { threshold: options.threshold } : {}),
        };
        const source = policyPath(context, file);
        const before = readPolicyFile(context, source);
        let after: policy.Policy;
        if (options.output === undefined) {
          const store = createFileStore({
            file: source,
            modules: context.modules,
            locality: context.locality,
          });
          after = store.update((current) => policy.simplify(current, simplifyOptions));
        } else {
          after = policy.simplify(before, simplifyOptions);
          writeFileAtomicSync(
            policyPath(context, options.output),
            serializePolicy(after, context.locality),
          );
        }
        out(
          `${display(context, options.output ?? source)}: ${policy.countRules(before)} → ${policy.countRules(after)} rules`,
        );
      },
    );

  group
    .command('lint')
    .description(
      'validate a policy and warn about rules broader than leash would learn; exit 2 when invalid, 1 on warnings',
    )
    .argument('[file]', 'policy file (default: from config)')
    .action(async (file: string | undefined, _options: unknown, command: Command) => {
      const context = await contextOf(command);
      const path = policyPath(context, file);
      const p = readPolicyFile(context, file ?? display(context, path));
      const warnings: Array<{ module: string; path: readonly string[]; message: string }> = [
        ...lintPolicy(p, context.config.simplify),
      ];
      // Each module may lint its own rules further (csp runs Google's CSP Evaluator).
      const infos: typeof warnings = [];
      for (const [name, t] of p.modules) {
        const where = { appRoot: context.config.root, tmpDir: tmpdir(), policyFile: path };
        for (const finding of context.modules.get(name)?.lint?.(t, where) ?? []) {
          (finding.warning ? warnings : infos).push({ module: name, ...finding });
        }
      }
      for (const w of warnings) {
        out(`${paint('yellow', 'warning')} ${w.module}: ${w.path.join(' › ')}: ${w.message}`);
      }
      for (const i of infos)
        out(`${paint('dim', 'info')} ${i.module}: ${i.path.join(' › ')}: ${i.message}`);
      out(
        `${display(context, path)}: ${policy.countRules(p)} rules, ${warnings.length} warning${warnings.length === 1 ? '' : 's'}`,
      );
      process.exitCode = warnings.length > 0 ? 1 : 0;
    });

  group
    .command('review')
    .description(
      'list violations recorded in report and enforce mode; --approve adds them to the policy, --reject drops them',
    )
    .argument('[file]', 'policy file (default: from config)')
    .option('--approve', 'add the listed violations to the policy and clear them')
    .option('--reject', 'clear the listed violations without adding them (an attack, a bug fixed)')
    .option(
      '--id <ids>',
      'only these violations: ids from the listing, comma-separated (repeatable)',
      (value: string, previous: string[] = []) => [
        ...previous,
        ...value
          .split(',')
          .map((id) => id.trim())
          .filter(Boolean),
      ],
    )
    .option(
      '-i, --interactive',
      'ask for each violation: approve, reject or skip (the default on a terminal)',
    )
    .option('-m, --module <name>', 'only this module')
    .option('-s, --scope <scope>', 'only violations whose first fact (the scope) is this')
    .action(
      async (
        file: string | undefined,
        options: {
          approve?: boolean;
          reject?: boolean;
          interactive?: boolean;
          id?: string[];
          module?: string;
          scope?: string;
        },
        command: Command,
      ) => {
        const context = await contextOf(command);
        if (options.approve && options.reject)
          throw usage('--approve and --reject exclude each other');
        // Violations still in the launcher's spool (the service is running, or a run was
        // killed) are listed too, and merged into the violations file by any change made here.
        const store = createFileStore({
          file: policyPath(context, file),
          modules: context.modules,
          locality: context.locality,
          spool: { warn: (message) => process.stderr.write(`leash: ${message}\n`) },
        });
        const ids = options.id === undefined ? undefined : new Set(options.id);
        const picked = (v: { module: string; facts: readonly string[]; mode: string }) =>
          (options.module === undefined || v.module === options.module) &&
          (options.scope === undefined || v.facts[0] === options.scope) &&
          (ids === undefined || ids.has(violationId(v)));
        const recorded = store.loadViolations();
        if (ids !== undefined) {
          const known = new Set(recorded.map(violationId));
          const unknown = [...ids].filter((id) => !known.has(id));
          if (unknown.length > 0) {
            throw usage(
              `no recorded violation has the id ${unknown.join(', ')}; nothing was changed (run \`leash policy review\` for the ids)`,
            );
          }
        }
        const violations = recorded.filter(picked);
        if (violations.length === 0) {
          out('no recorded violations');
          return;
        }
        for (const v of violations) {
          out(
            `${paint('dim', violationId(v))} ${v.module}: ${v.facts.join(' › ')}  ${paint('dim', `${v.mode}, ${v.count}×, last ${v.lastSeen}`)}`,
          );
        }
        const count = (k: number) => `${k} violation${k === 1 ? '' : 's'}`;
        const n = count(violations.length);
        const approveAll = (approved: readonly ViolationRecord[]) =>
          store.update((current) => {
            const modules = new Map(current.modules);
            for (const v of approved) {
              const t = policy.treeFor(modules, v.module, context.modules);
              const fresh = tree.createTree(t.kind);
              tree.add(fresh, v.facts);
              modules.set(v.module, tree.merge(t, fresh));
            }
            return { version: policy.POLICY_VERSION, modules };
          });
        const interactive =
          options.interactive === true ||
          (!options.approve &&
            !options.reject &&
            ids === undefined &&
            process.stdin.isTTY === true &&
            process.stdout.isTTY === true);
        if (interactive && !options.approve && !options.reject) {
          const { approved, rejected } = await askEach(violations);
          if (approved.length > 0) approveAll(approved);
          const decided = new Set([...approved, ...rejected].map(violationId));
          if (decided.size > 0)
            store.updateViolations((current) =>
              current.filter((v) => !decided.has(violationId(v))),
            );
          out(
            `approved ${count(approved.length)} into ${display(context, store.location)}, rejected ${rejected.length}, ${violations.length - decided.size} left for later`,
          );
          return;
        }
        if (!options.approve && !options.reject) {
          out(
            `${n}; approve them with --approve, drop them with --reject (one at a time: --id <id>)`,
          );
          return;
        }
        if (options.approve) approveAll(violations);
        store.updateViolations((current) => current.filter((v) => !picked(v)));
        out(
          options.approve
            ? `approved ${n} into ${display(context, store.location)}`
            : `rejected ${n}: cleared from the record, the policy is unchanged`,
        );
      },
    );
}

function toJson([module, rule]: readonly [string, readonly string[]]) {
  return { module, rule };
}

function parseThreshold(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 2)
    throw usage(`--threshold must be an integer ≥ 2, got ${JSON.stringify(value)}`);
  return n;
}

/**
 * Asks about each violation on stdin: `a` approves, `r` rejects, anything else (or the end of the
 * input) leaves it for later; `q` leaves the rest. Lines are read as they come, so piped answers
 * work as typed ones do.
 */
async function askEach(
  violations: readonly ViolationRecord[],
): Promise<{ approved: ViolationRecord[]; rejected: ViolationRecord[] }> {
  const approved: ViolationRecord[] = [];
  const rejected: ViolationRecord[] = [];
  const lines = createInterface({ input: process.stdin, terminal: false })[Symbol.asyncIterator]();
  try {
    for (const v of violations) {
      process.stdout.write(`${violationId(v)}: approve (a), reject (r), skip (s) or quit (q)? `);
      const next = await lines.next();
      const answer = next.done === true ? 'q' : String(next.value).trim().toLowerCase();
      process.stdout.write(next.done === true ? '\n' : '');
      if (answer === 'a') approved.push(v);
      else if (answer === 'r') rejected.push(v);
      else if (answer === 'q') break;
    }
  } finally {
    await lines.return?.();
  }
  return { approved, rejected };
}

function usage(message: string): LeashError {
  return new LeashError('ERR_LEASH_USAGE', message);
}
