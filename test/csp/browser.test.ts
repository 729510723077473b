// In a real headless Chromium, on loopback only: learn by visiting the pages, then in enforce mode
// every legitimate resource (CDN script, stylesheet, font, images, data: image, inline script,
// style and handler, a nonced script) loads with no violation, while a reflected XSS payload does
// not run and is reported.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startUnder } from '../runtime/helpers.ts';
import { CHROMIUM, launch } from './browser.ts';
import { startCdn } from './cdn.ts';

const SERVICE = fileURLToPath(new URL('./fixtures/pages-service.mjs', import.meta.url));
const PAYLOAD = '<script>window.pwned = true</script>';

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

test('csp in Chromium: learn the pages, then enforce: all legitimate loads work, the XSS payload is blocked and reported', {
  skip: existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (.ci/run installs it)`,
}, async () => {
  const cdn = await startCdn();
  const dir = mkdtempSync(join(tmpdir(), 'leash-csp-browser-'));
  // report-uri only: Chromium sends report-to reports in batches, up to a minute late.
  writeFileSync(
    join(dir, 'leash.config.json'),
    JSON.stringify({ flushIntervalMs: 100, csp: { reportTo: false } }),
  );
  const policyFile = join(dir, 'leash.policy.json');
  const env = { CDN_ORIGIN: cdn.origin };
  const browser = await launch();
  try {
    const learning = await startUnder(['learn', '--', process.execPath, SERVICE], {
      cwd: dir,
      env,
    });
    try {
      const page = await browser.newPage();
      await page.goto(`${learning.base}/`, { waitUntil: 'networkidle' });
      await page.click('#go');
      await page.goto(`${learning.base}/nonced`, { waitUntil: 'networkidle' });
      await page.goto(`${learning.base}/hello?name=ann`, { waitUntil: 'networkidle' });
      await page.close();
      await until('the reports of every CDN load', () => {
        const home = (readJson(policyFile).csp as Record<string, Record<string, string[]>>)?.['/'];
        const ok =
          home?.['font-src']?.includes(cdn.origin) &&
          home['style-src']?.includes(cdn.origin) &&
          home['img-src']?.includes('data:') &&
          home['script-src']?.includes(`${cdn.origin}/js/app.js`);
        return ok ? true : undefined;
      });
    } finally {
      await learning.stop();
    }
    const csp = readJson(policyFile).csp as Record<string, Record<string, string[]>>;
    assert.deepEqual(csp['/']!['img-src'], ["'self'", 'data:', cdn.origin], JSON.stringify(csp));
    assert.ok(!JSON.stringify(csp).includes('unsafe-inline'));
    assert.ok(csp['/']!['script-src']!.includes("'unsafe-hashes'"));

    cdn.requested.length = 0;
    const enforcing = await startUnder(['enforce', '--', process.execPath, SERVICE], {
      cwd: dir,
      env,
    });
    try {
      const context = await browser.newContext();
      // Browser-side code as text: the project's TypeScript has no DOM types.
      await context.addInitScript({
        content: `window.violations = [];
          document.addEventListener('securitypolicyviolation', (e) =>
            window.violations.push(e.effectiveDirective + ' ' + e.blockedURI));`,
      });
      const page = await context.newPage();
      const response = await page.goto(`${enforcing.base}/`, { waitUntil: 'networkidle' });
      const header = (await response!.allHeaders())['content-security-policy'] ?? '';
      assert.match(header, /font-src http:\/\/127\.0\.0\.2:\d+/);
      await page.click('#go');
      const home = await page.evaluate(`(() => {
        const img = (id) => document.getElementById(id).naturalWidth;
        return {
          inlineRan: window.inlineRan,
          cdnScriptRan: window.cdnScriptRan,
          clicked: window.clicked,
          images: [img('cdn-img'), img('own-img'), img('data-img')],
          h1: getComputedStyle(document.querySelector('h1')).color,
          font: getComputedStyle(document.body).fontFamily,
          violations: window.violations,
        };
      })()`);
      assert.deepEqual(home, {
        inlineRan: true,
        cdnScriptRan: true,
        clicked: true,
        images: [1, 1, 1],
        h1: 'rgb(102, 51, 153)',
        font: 'cdnfont, sans-serif',
        violations: [],
      });
      for (const path of ['/css/site.css', '/js/app.js', '/img/photo.png', '/font/site.woff2'])
        assert.ok(cdn.requested.includes(path), `${path} loaded: ${cdn.requested.join(' ')}`);

      await page.goto(`${enforcing.base}/nonced`, { waitUntil: 'networkidle' });
      const nonced = await page.evaluate(
        '({ ran: typeof window.nonceRan, violations: window.violations })',
      );
      assert.deepEqual(nonced, { ran: 'number', violations: [] });

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
    await cdn.close();
  }
});
