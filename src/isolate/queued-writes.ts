/**
 * @module
 * Which of a write queue's rules a group's workers get. steno's own writes (lowdb's JSON file and
 * its `.~` copy, json-server's database) are `@pool` rules, and `@pool` is a process scope every
 * worker holds; but a write reaches the queue only when a route asks for it, and that ask is a
 * rule of the route's own (`fs.write` of the data file, src/modules/runtime/steno.ts). So a
 * group's workers get the queue's rules for a data file only when their own rules ask to write
 * it (one of the group's routes, or a process scope such as `@startup`, which every worker holds
 * anyway); the kernel keeps both files from every other worker. A policy in which nothing asks
 * for the file (learned before the asks were, or with a steno leash does not patch) keeps the
 * queue's rules in every worker: nothing tells which workers need them.
 */
import { isQueuedWriter } from '../attribution/package-of.ts';
import { POOL } from '../attribution/scope.ts';
import type { PolicyTree, Rule } from '../core/tree.ts';
import { asksToWrite, stenoDataFile } from '../modules/runtime/steno.ts';

/**
 * The predicate over a group's runtime rules that is true for a write queue's `@pool` file rule
 * whose data file `all` (the policy's runtime tree) asks to write and `own` (the process scopes
 * and the group's routes) does not.
 */
export function unaskedQueueWrites(own: PolicyTree, all: PolicyTree): (rule: Rule) => boolean {
  const ownAsks = asksToWrite(own);
  const anyAsks = asksToWrite(all);
  return (rule) => {
    const [scope, pkg, capability, resource] = rule;
    if (scope !== POOL || pkg === undefined || !isQueuedWriter(pkg)) return false;
    if (resource === undefined || capability?.startsWith('fs.') !== true) return false;
    const file = stenoDataFile(resource);
    return !ownAsks(file) && anyAsks(file);
  };
}
