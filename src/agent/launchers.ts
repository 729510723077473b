/**
 * @module
 * Package managers are not the service. `leash learn -- npm test` puts the preload in
 * NODE_OPTIONS, so npm's own Node process would carry the agent too and learn npm's work (its
 * timestamped debug log, its config and cache reads) as if the service had needed it. The agent
 * stays out of a process whose main script is a package manager's CLI; NODE_OPTIONS still reaches
 * everything the package manager starts, where the service and its tests run.
 *
 * Code inside the service cannot use this to escape its checks: starting a package manager is a
 * child.spawn the policy must grant, and Node's own permission flags (enforce) stay on in it.
 */

const LAUNCHER_SCRIPTS: readonly RegExp[] = [
  /\/node_modules\/npm\/bin\/(npm|npx)-cli\.js$/,
  /\/node_modules\/pnpm\/bin\/(pnpm|pnpx)\.c?js$/,
  /\/node_modules\/(yarn|@yarnpkg\/cli-dist)\/bin\/yarn(pkg)?\.c?js$/,
  /\/\.yarn\/releases\/yarn-[^/]+\.c?js$/,
  /\/node_modules\/corepack\/dist\/(corepack|npm|npx|pnpm|pnpx|yarn|yarnpkg)\.js$/,
];

/** Whether `mainScript` (the real path of `process.argv[1]`) is a package manager's CLI. */
export function isLauncher(mainScript: string | undefined): boolean {
  return mainScript !== undefined && LAUNCHER_SCRIPTS.some((pattern) => pattern.test(mainScript));
}
