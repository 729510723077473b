// The example service's pages in a real headless Chromium, on loopback only: learn by visiting
// them, then in enforce mode every legitimate resource (the CDN's script, stylesheet, font and
// images, an image of the service's own, a data: image, inline script, style and handler, a
// nonced script) loads with no violation, while a reflected XSS payload does not run and is
// reported.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CDN_HOST } from '../../examples/service/config.ts';
import { freePort, startExample } from '../../examples/service/start.ts';
import { CHROMIUM, launch } from './browser.ts';

const BIN = fileURLToPath(new URL('../../bin/leash.js', import.meta.url));
const PAYLOAD = '<script>window.pwned = true</script>';
const CDN_PATHS = [
  '/css/site.css',
  '/js/app.js',
  '/img/photo.png',
  '/img/banner.png',
  '/font/site.woff2',
];

type Csp = Record<string, Record<string, string[]>>;

async function until<T>(what: string, fn: () => T | undefined, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = fn();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const readJson = (file: string) =>
  existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : {};

test('csp in Chromium on the example service: learn its pages, then enforce: all legitimate loads work, the XSS payload is blocked and reported', {
  skip: existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (.ci/run installs it)`,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'leash-csp-browser-'));
  // The default csp options: over HTTP the pages name report-uri alone (report-to.test.ts has
  // HTTPS).
  writeFileSync(join(dir, 'leash.config.json'), JSON.stringify({ flushIntervalMs: 100 }));
  const policyFile = join(dir, 'leash.policy.json');
  // Fixed between learning and enforcing: the CDN's origin and the service's own are in the policy.
  const ports = {
    server: await freePort(),
    partner: await freePort(),
    cdn: await freePort(CDN_HOST),
  };
  const start = (mode: 'learn' | 'enforce') =>
    startExample({
      dataDir: join(dir, 'data'),
      cwd: dir,
      ports,
      env: { LEASH_CONFIG: '', LEASH_MODE: '', LEASH_POLICY: '', NO_COLOR: '1' },
      wrap: (command) => [process.execPath, BIN, mode, '--', ...command],
    });
  const browser = await launch();
  try {
    const learning = await start('learn');
    const cdn = learning.cdnBase;
    try {
      const page = await browser.newPage();
      await page.goto(`${learning.base}/gallery`, { waitUntil: 'networkidle' });
      await page.click('#like');
      await page.goto(`${learning.base}/clock`, { waitUntil: 'networkidle' });
      await page.goto(`${learning.base}/hello?name=ann`, { waitUntil: 'networkidle' });
      await page.close();
      await until('the reports of every load', () => {
        const csp = (readJson(policyFile).csp ?? {}) as Csp;
        const has = (route: string, directive: string, source: string) =>
          csp[route]?.[directive]?.includes(source) === true;
        const ok =
          has('/gallery', 'font-src', cdn) &&
          has('/gallery', 'style-src', cdn) &&
          has('/gallery', 'img-src', 'data:') &&
          has('/gallery', 'img-src', cdn) &&
          has('/gallery', 'script-src', `${cdn}/js/app.js`) &&
          ['/gallery', '/clock', '/hello'].every(
            (route) => has(route, 'script-src', "'self'") && has(route, 'style-src', "'self'"),
          );
        return ok ? true : undefined;
      });
    } finally {
      await learning.stop();
    }
    const csp = readJson(policyFile).csp as Csp;
    assert.deepEqual(csp['/gallery']!['img-src'], ["'self'", 'data:', cdn], JSON.stringify(csp));
    assert.ok(!JSON.stringify(csp).includes('unsafe-inline'));
    assert.ok(csp['/gallery']!['script-src']!.includes("'unsafe-hashes'"));
    assert.deepEqual(
      csp['/clock']!['script-src'],
      ["'self'"],
      'the nonced script, different in every response, is left to the nonce',
    );

    const enforcing = await start('enforce');
    assert.equal(enforcing.cdnBase, cdn);
    try {
      const context = await browser.newContext();
      // Browser-side code as text: the project's TypeScript has no DOM types.
      await context.addInitScript({
        content: `window.violations = [];
          document.addEventListener('securitypolicyviolation', (e) =>
            window.violations.push(e.effectiveDirective + ' ' + e.blockedURI));`,
      });
      const fromCdn: string[] = [];
      context.on('response', (response) => {
        const url = new URL(response.url());
        if (url.origin === cdn) fromCdn.push(`${url.pathname} ${response.status()}`);
      });
      const page = await context.newPage();
      const response = await page.goto(`${enforcing.base}/gallery`, { waitUntil: 'networkidle' });
      const header = (await response!.allHeaders())['content-security-policy'] ?? '';
      assert.ok(header.includes(`font-src ${cdn}`), header);
      await page.click('#like');
      const gallery = await page.evaluate(`(() => {
        const img = (id) => document.getElementById(id).naturalWidth;
        return {
          inlineRan: window.inlineRan,
          cdnScriptRan: window.cdnScriptRan,
          liked: window.liked,
          images: [img('cdn-photo'), img('cdn-banner'), img('own-logo'), img('data-dot')],
          h1: getComputedStyle(document.querySelector('h1')).color,
          font: getComputedStyle(document.body).fontFamily,
          violations: window.violations,
        };
      })()`);
      assert.deepEqual(gallery, {
        inlineRan: true,
        cdnScriptRan: true,
        liked: true,
        images: [1, 24, 16, 1],
        h1: 'rgb(102, 51, 153)',
        font: 'cdnfont, sans-serif',
        violations: [],
      });
      for (const path of CDN_PATHS)
        assert.ok(fromCdn.includes(`${path} 200`), `${path} loaded: ${fromCdn.join(', ')}`);

      await page.goto(`${enforcing.base}/clock`, { waitUntil: 'networkidle' });
      const clock = await page.evaluate(
        '({ ran: typeof window.renderedAt, violations: window.violations })',
      );
      assert.deepEqual(clock, { ran: 'number', violations: [] });

      await page.goto(`${enforcing.base}/hello?name=${encodeURIComponent(PAYLOAD)}`, {
        waitUntil: 'networkidle',
      });
      const attacked = (await page.evaluate(
        '({ helloRan: window.helloRan, pwned: window.pwned, violations: window.violations })',
      )) as { helloRan: unknown; pwned: unknown; violations: string[] };
      assert.equal(attacked.helloRan, true, 'the page itself still works');
      assert.equal(attacked.pwned, undefined, 'the injected script did not run');
      assert.deepEqual(attacked.violations, ['script-src-elem inline']);
      await context.close();
      // The browser reported it: leash keeps it as a violation for review.
      const violationsFile = join(dir, 'leash.violations.json');
      await until('the XSS violation in the violations file', () =>
        readFileSync(violationsFile, { encoding: 'utf8', flag: 'a+' }).includes("'unsafe-inline'")
          ? true
          : undefined,
      );
      assert.match(
        readFileSync(violationsFile, 'utf8'),
        /\/hello[\s\S]*script-src[\s\S]*'unsafe-inline'/,
      );
    } finally {
      await enforcing.stop();
    }
  } finally {
    await browser.close();
  }
});
