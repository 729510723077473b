/**
 * @module
 * Node prints a warning for some of the permission flags leash compiles from the policy
 * (`SecurityWarning: The flag --allow-child-process must be used with extreme caution`,
 * `ExperimentalWarning` for `--allow-net`), in every Node process of the service. leash says once,
 * before the service starts, why the flag is there and what checks the use in its place.
 */

const WHY: ReadonlyArray<readonly [flag: string, grant: string, check: string]> = [
  ['--allow-child-process', 'child.spawn', 'each command line'],
  ['--allow-worker', 'workers', 'each worker'],
  ['--allow-addons', 'native addons', 'each addon'],
  ['--allow-wasi', 'WASI', 'each WASI start'],
  ['--allow-net', 'network use', 'each host:port'],
];

/** The one line to print, or undefined when no flag makes Node warn. */
export function explainNodeWarnings(
  flags: readonly string[],
  inProcess: boolean,
): string | undefined {
  const present = WHY.filter(([flag]) => flags.includes(flag));
  if (present.length === 0) return undefined;
  const names = present.map(([flag]) => flag).join(', ');
  const grants = present.map(([, grant]) => grant).join(', ');
  const checks = present.map(([, , check]) => check).join(', ');
  const who = inProcess
    ? `leash checks ${checks} against the policy in the service`
    : 'only the other layers you chose check them';
  return `leash: Node warns below about ${names}: the policy grants ${grants}, which Node can only allow for the whole process; ${who}. The warnings are expected.\n`;
}
