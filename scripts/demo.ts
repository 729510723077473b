/**
 * @module
 * `npm run demo`: leash's main job on the bundled example service, with embedded defaults.
 * Learns from the learning workload (and, when Chromium is installed, from a headless browser
 * visiting the pages), shows the policy, restarts the service enforcing, replays a held-out
 * workload of different legitimate requests, four runtime attacks, five SQL attacks and a
 * reflected XSS in the browser, and says what passed and which layer refused what. Then the same
 * under per-route isolation (`--isolate`), with the one attack from inside a compromised route
 * that no in-process check can stop. Everything runs on loopback, in a temporary directory.
 */

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { styleText } from 'node:util';
import type { Browser } from 'playwright-core';
import {
  browseToCheck,
  browseToLearn,
  CDN_PATHS,
  CHROMIUM,
  hasChromium,
  launchChromium,
  waitUntil,
} from '../examples/service/browser.ts';
import {
  borrowRoute,
  COMPROMISED_DEPENDENCY,
  loginCookie,
  runInRoute,
} from '../examples/service/compromised.ts';
import { CDN_HOST } from '../examples/service/config.ts';
import { freePort, type RunningExample, startExample } from '../examples/service/start.ts';
import { passwordOf } from '../examples/service/users.ts';
import {
  attacks,
  heldOutWorkload,
  learningWorkload,
  snapshotDatabase,
  sqlAttacks,
} from '../examples/service/workload.ts';
import { kernelSupport } from '../src/supervisor/kernel/helper.ts';

const BIN = fileURLToPath(new URL('../bin/leash.js', import.meta.url));
const SERVICE_DIR = fileURLToPath(new URL('../examples/service/', import.meta.url));
const say = (text = '') => process.stdout.write(`${text}\n`);
const bold = (text: string) => styleText('bold', text, { stream: process.stdout });
const good = (text: string) => styleText('green', text, { stream: process.stdout });
const bad = (text: string) => styleText('red', text, { stream: process.stdout });

const work = mkdtempSync(join(tmpdir(), 'leash-demo-'));
const dataDir = join(work, 'data');
const policyFile = join(work, 'leash.policy.json');
const ports = {
  server: await freePort(),
  partner: await freePort(),
  cdn: await freePort(CDN_HOST),
};

const start = (mode: string, ...options: string[]) =>
  startExample({
    dataDir,
    cwd: SERVICE_DIR,
    ports,
    // One session secret for every process: under --isolate each route group is a process.
    env: { LEASH_CONFIG: '', LEASH_MODE: '', SESSION_SECRET: 'leash-demo-session-secret' },
    // A dependency that runs attacker code in whichever route a request names (quiet otherwise).
    nodeOptions: ['--import', COMPROMISED_DEPENDENCY],
    wrap: (command) => [
      process.execPath,
      BIN,
      mode,
      ...options,
      '--policy',
      policyFile,
      '--',
      ...command,
    ],
  });

const PRIVATE = 'alice-private.txt';

/**
 * From inside GET /notes (the compromised dependency), a forged request into GET /files/:name's
 * handler, as alice, for her private file: what no check inside the process can tell from a real
 * request. Says whether it got the file.
 */
async function borrowFromInside(service: RunningExample): Promise<{ got: boolean; why: string }> {
  const cookie = await loginCookie(service.base, 'bob', passwordOf('bob'));
  const answer = await runInRoute(
    service.base,
    '/notes',
    cookie,
    borrowRoute(`/files/${PRIVATE}`, 'alice'),
  );
  const value = answer.value as { status?: number; body?: string } | undefined;
  const got = value?.body === 'alice private words';
  if (got) return { got, why: "read alice's file" };
  let why = value?.body ?? answer.message ?? '';
  try {
    why = (JSON.parse(why) as { error?: string }).error ?? why;
  } catch {}
  return { got, why: why.replace(/, open .*/, '').slice(0, 80) };
}

/** Which layer refused, from the answer the attacker got. */
function refusedBy(evidence: string, layer: string): string {
  // Alone, the kernel is the only thing that can have refused.
  if (layer === 'kernel') return 'the kernel (Landlock / seccomp)';
  if (evidence.includes('leash refused')) return "leash's in-process check (ERR_LEASH_DENIED)";
  if (/ERR_ACCESS_DENIED|Access to this API/.test(evidence))
    return "Node's permission model (ERR_ACCESS_DENIED)";
  if (evidence.includes('fetch failed'))
    return "leash's in-process check (the connection was never opened)";
  return 'refused';
}

say(bold('leash demo: least privilege for the example notes service'));
say(`Express 5 + SQLite + uploads + a partner API + a tar export job; work directory ${work}`);
say();

say(bold('1. Learn') + `   leash learn -- node examples/service/server.ts`);
let service = await start('learn');
const learned = await learningWorkload(service.base);
say(`   learning workload: ${learned.requests} requests, ${learned.failures.length} failures`);
const browser: Browser | undefined = hasChromium() ? await launchChromium() : undefined;
if (browser === undefined) {
  say(`   no Chromium at ${CHROMIUM}: the pages' Content-Security-Policy is not learned`);
  say('   (apt-get install chromium, or set LEASH_CHROMIUM)');
} else {
  await browseToLearn(browser, service.base);
  const cdn = service.cdnBase;
  try {
    // The browser reports what the pages loaded; leash writes it on its next flush.
    await waitUntil('the browser reports', () => {
      if (!existsSync(policyFile)) return undefined;
      const csp = JSON.parse(readFileSync(policyFile, 'utf8')).csp as
        | Record<string, Record<string, string[]>>
        | undefined;
      return csp?.['/gallery']?.['font-src']?.includes(cdn) ? true : undefined;
    });
    say('   headless Chromium visited /gallery, /clock and /hello: their CSP is learned');
  } catch {
    say(bad('   the browser reports did not arrive in time: the CSP is incomplete'));
  }
}
await service.stop();
// The policy names the service's port as {env:PORT}: show it with the service's environment.
const show = spawnSync(process.execPath, [BIN, 'policy', 'show', policyFile], {
  encoding: 'utf8',
  env: { ...process.env, PORT: String(ports.server) },
});
say();
say(show.stdout.replace(/^/gm, '   '));

mkdirSync(join(dataDir, 'uploads', 'alice'), { recursive: true });
writeFileSync(join(dataDir, 'uploads', 'alice', PRIVATE), 'alice private words');

const kernel = kernelSupport();
const runs: Array<readonly [string, string]> = [
  ["2. Enforce with both layers (Node's --permission flags + leash in process)", 'both'],
  ["3. For comparison: Node's flags alone", 'node'],
];
if (kernel.problem === undefined)
  runs.push([
    '4. For comparison: the kernel layer alone (Landlock + seccomp, no leash in process)',
    'kernel',
  ]);
for (const [title, layer] of runs) {
  say(bold(title));
  service = await start('enforce', `--layer=${layer}`);
  const held = await heldOutWorkload(service.base);
  say(
    `   held-out workload (other users, files, cities, exports): ${held.requests} requests, ` +
      (held.failures.length === 0 ? good('0 refused') : bad(`${held.failures.length} failed`)),
  );
  for (const failure of held.failures)
    say(`     ${failure.method} ${failure.path}: ${failure.status} ${failure.reason ?? ''}`);
  const attackDir = mkdtempSync(join(work, 'attack-'));
  for (const attack of attacks(service.base, {
    tmpDir: attackDir,
    metadataBase: service.metadataBase,
  })) {
    const result = await attack.run();
    const verdict = result.succeeded
      ? bad('GOT THROUGH')
      : good(`refused by ${refusedBy(result.evidence, layer)}`);
    say(`   ${attack.name.padEnd(18)} ${attack.description}\n   ${''.padEnd(18)} ${verdict}`);
  }
  const location = { dataDir };
  const before = await snapshotDatabase(location);
  for (const attack of sqlAttacks(service.base, location)) {
    const result = await attack.run();
    const verdict = result.succeeded
      ? bad('GOT THROUGH')
      : good(`refused by ${refusedBy(result.evidence, layer)} before reaching the database`);
    say(`   ${attack.name.padEnd(18)} ${attack.description}\n   ${''.padEnd(18)} ${verdict}`);
  }
  const unchanged = JSON.stringify(await snapshotDatabase(location)) === JSON.stringify(before);
  say(`   database after the SQL attacks: ${unchanged ? good('unchanged') : bad('CHANGED')}`);
  if (browser !== undefined) await browserChecks(browser, service.base, service.cdnBase);
  if (layer === 'both') {
    const inside = await borrowFromInside(service);
    say(
      `   ${'from inside'.padEnd(18)} a compromised dependency, in GET /notes as bob, runs GET /files/:name's handler for alice\n` +
        `   ${''.padEnd(18)} ${inside.got ? bad(`GOT THROUGH (${inside.why}): one process, one set of privileges — see 5`) : good(`refused: ${inside.why}`)}`,
    );
  }
  await service.stop();
  say();
}

say(bold('5. Per-route isolation: leash enforce --isolate (Passe)'));
service = await start('enforce', '--isolate');
const groups = service
  .output()
  .stderr.split('\n')
  .filter((line) => /^ {2}(g\d+|unprivileged):/.test(line));
say('   each group of routes with the same grants runs in its own sandboxed worker process:');
for (const line of groups) say(`   ${line.length > 110 ? `${line.slice(0, 107)}...` : line}`);
const heldIsolated = await heldOutWorkload(service.base);
say(
  `   held-out workload: ${heldIsolated.requests} requests, ` +
    (heldIsolated.failures.length === 0
      ? good('0 refused')
      : bad(`${heldIsolated.failures.length} failed`)),
);
const isolatedAttacks = [
  ...attacks(service.base, {
    tmpDir: mkdtempSync(join(work, 'attack-')),
    metadataBase: service.metadataBase,
  }),
  ...sqlAttacks(service.base, { dataDir }),
];
let through = 0;
for (const attack of isolatedAttacks) if ((await attack.run()).succeeded) through++;
say(
  `   the ${isolatedAttacks.length} attacks above: ${through === 0 ? good(`all ${isolatedAttacks.length} refused`) : bad(`${through} GOT THROUGH`)}`,
);
const contained = await borrowFromInside(service);
say(
  `   ${'from inside'.padEnd(18)} the same forged request from GET /notes' worker\n` +
    `   ${''.padEnd(18)} ${contained.got ? bad(`GOT THROUGH (${contained.why})`) : good(`contained by its worker's sandbox: ${contained.why}`)}`,
);
if (kernel.problem !== undefined)
  say(
    "   (without the kernel layer only Node's flags hold the workers, and code in a process can get around them)",
  );
await service.stop();
say();

await browser?.close();
if (kernel.problem !== undefined) say(`No kernel layer on this machine: ${kernel.problem}`);

const policyText = readFileSync(policyFile, 'utf8');
say(`The policy is ${policyFile} (${policyText.split('\n').length} lines); try:`);
say(`  PORT=${ports.server} node bin/leash.js policy show ${policyFile}`);
say(`  PORT=${ports.server} node bin/leash.js policy show --groups ${policyFile}`);
say(`  PORT=${ports.server} node bin/leash.js export systemd --policy ${policyFile}`);

/** The pages in the browser: what loaded, and whether the reflected XSS ran. */
async function browserChecks(browser: Browser, base: string, cdnBase: string): Promise<void> {
  const seen = await browseToCheck(browser, base, cdnBase);
  const loaded = CDN_PATHS.filter((path) => seen.fromCdn.includes(`${path} 200`)).length;
  const violations = (seen.gallery.violations as string[]).length;
  const pageOk =
    loaded === CDN_PATHS.length &&
    violations === 0 &&
    seen.gallery.inlineRan === true &&
    seen.clock.ran === 'number';
  say(
    `   /gallery in Chromium: ${loaded}/${CDN_PATHS.length} CDN files, inline code ${
      seen.gallery.inlineRan === true ? 'ran' : 'blocked'
    }, ${violations} CSP violations ` + (pageOk ? good('(works)') : bad('(BROKEN)')),
  );
  const verdict =
    seen.attacked.pwned === true
      ? bad('GOT THROUGH (the injected script ran)')
      : good("refused by the browser under leash's Content-Security-Policy (and reported)");
  say(
    `   ${'reflected-xss'.padEnd(18)} <script> in the name of a /hello link\n   ${''.padEnd(18)} ${verdict}`,
  );
}
