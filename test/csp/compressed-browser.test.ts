// Pages that break under an enforced CSP, in a real headless Chromium on loopback: an Express shop
// with `app.use(compression())` (fixtures/compressed-shop/, installed in a temp directory as an
// app is, with its public/ files beside it and the repository's node_modules) is learned while Chromium visits
// one page, its home, sent compressed; its other page is fetched by a plain HTTP client (as a
// test suite or a smoke check fetches it) and never visited by a browser. Then, enforced, both
// pages load every resource of their own (stylesheet, scripts, images, the stylesheet's background
// image and font, the shared script's fetch of the shop's API) and run their inline script,
// style, handler and style attribute with 0 CSP violations. The other page gets what its shared
// script and stylesheet load from what leash learned of them elsewhere (subresources.ts).
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import {
  CHROMIUM,
  COLLECT_VIOLATIONS,
  hasChromium,
  launchChromium,
  waitUntil,
} from '../../examples/service/browser.ts';
import { freePort } from '../../examples/service/start.ts';
import { startUnder } from '../runtime/helpers.ts';
import { learnedCsp } from './recorded.ts';

const SHOP = fileURLToPath(new URL('./fixtures/compressed-shop/', import.meta.url));
const NODE_MODULES = fileURLToPath(new URL('../../node_modules/', import.meta.url));

/** What a page did in the browser. */
interface Seen {
  /** The document's Content-Encoding and CSP header. */
  readonly encoding: string | undefined;
  readonly policy: string | undefined;
  /** `effectiveDirective blockedURI` of every securitypolicyviolation event. */
  readonly violations: readonly string[];
  /** Requests that failed (a CSP block is net::ERR_BLOCKED_BY_CSP). */
  readonly failed: readonly string[];
  /** Paths of the shop's own files the page loaded, with their status (no favicon). */
  readonly loaded: readonly string[];
  /** The Content-Encoding of the stylesheet. */
  readonly stylesheetEncoding: string | undefined;
  readonly state: Record<string, unknown>;
}

/** Opens `path` in a fresh context, presses its button and says what loaded and ran. */
async function visit(browser: Browser, base: string, path: string): Promise<Seen> {
  const context = await browser.newContext();
  try {
    await context.addInitScript({ content: COLLECT_VIOLATIONS });
    const failed: string[] = [];
    const loaded: string[] = [];
    let stylesheetEncoding: string | undefined;
    context.on('requestfailed', (request) =>
      failed.push(`${request.url()} ${request.failure()?.errorText ?? ''}`),
    );
    context.on('response', (response) => {
      const url = new URL(response.url());
      if (url.origin !== new URL(base).origin || url.pathname === '/favicon.ico') return;
      loaded.push(`${url.pathname} ${response.status()}`);
      if (url.pathname === '/static/site.css')
        stylesheetEncoding = response.headers()['content-encoding'];
    });
    const page = await context.newPage();
    const response = await page.goto(new URL(path, base).href, { waitUntil: 'networkidle' });
    const headers = (await response?.allHeaders()) ?? {};
    await page.click('#press');
    const state = (await page.evaluate(`(async () => {
      const style = (selector, property) =>
        getComputedStyle(document.querySelector(selector))[property];
      const image = document.querySelector('img');
      return {
        homeInlineRan: window.homeInlineRan,
        aboutInlineRan: window.aboutInlineRan,
        appRan: window.appRan,
        aboutRan: window.aboutRan,
        items: await window.items,
        pressed: window.pressed,
        image: image.complete ? image.naturalWidth : 0,
        h1: style('h1', 'color'),
        footer: style('footer', 'color'),
        styled: style('#styled', 'color'),
        banner: style('#banner', 'backgroundImage'),
        bannerLoaded: performance.getEntriesByType('resource')
          .filter((e) => /\\/static\\/(dot|stripe)\\.svg$/.test(e.name))
          .map((e) => new URL(e.name).pathname),
      };
    })()`)) as Record<string, unknown>;
    const violations = (await page.evaluate('window.violations')) as string[];
    return {
      encoding: headers['content-encoding'],
      policy: headers['content-security-policy'],
      violations,
      failed,
      loaded: loaded.sort(),
      stylesheetEncoding,
      state,
    };
  } finally {
    await context.close();
  }
}

/** What each page loads of the shop's own (its @font-face font from the shared stylesheet too). */
const LOADED = {
  '/': [
    '/ 200',
    '/api/items 200',
    '/static/app.js 200',
    '/static/dot.svg 200',
    '/static/logo.svg 200',
    '/static/shop.woff2 200',
    '/static/site.css 200',
  ],
  '/about': [
    '/about 200',
    '/api/items 200',
    '/static/about.js 200',
    '/static/app.js 200',
    '/static/shop.woff2 200',
    '/static/site.css 200',
    '/static/stripe.svg 200',
    '/static/team.svg 200',
  ],
} as const;

function violationLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.includes('"event":"violation"'));
}

test('in Chromium, a compressed page visited while learning and a page no browser visited both load all their own resources with 0 CSP violations under enforce', {
  skip: hasChromium() ? false : `no Chromium at ${CHROMIUM} (.ci/run installs it)`,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'leash-csp-compressed-browser-'));
  cpSync(SHOP, dir, { recursive: true });
  symlinkSync(NODE_MODULES, join(dir, 'node_modules'));
  writeFileSync(join(dir, 'leash.config.json'), JSON.stringify({ flushIntervalMs: 100 }));
  const policyFile = join(dir, 'leash.policy.json');
  const env = { PORT: String(await freePort()) };
  const start = (mode: 'learn' | 'enforce') =>
    startUnder([mode, '--', process.execPath, join(dir, 'shop.mjs')], { cwd: dir, env });

  const browser = await launchChromium();
  try {
    const learning = await start('learn');
    try {
      // Chromium visits the home page only.
      const home = await visit(browser, learning.base, '/');
      assert.match(home.encoding ?? '', /^(br|gzip|deflate)$/, 'the home page came compressed');
      // The about page is fetched as a test client fetches it, compressed too; no browser.
      const about = await fetch(new URL('/about', learning.base), {
        headers: { 'accept-encoding': 'gzip, deflate, br' },
      });
      assert.equal(about.status, 200);
      assert.match(about.headers.get('content-encoding') ?? '', /^(br|gzip|deflate)$/);
      assert.match(await about.text(), /About us/);
      await waitUntil('the reports of the home page', () => {
        const home = learnedCsp(policyFile)['/'] ?? {};
        const has = (directive: string, source: string) =>
          home[directive]?.includes(source) === true;
        return has('connect-src', "'self'") &&
          has('img-src', "'self'") &&
          has('style-src', "'self'") &&
          has('script-src', "'self'")
          ? true
          : undefined;
      });
    } finally {
      await learning.stop();
    }
    const csp = learnedCsp(policyFile);
    assert.ok(csp['/about'], `the about page has a policy: ${JSON.stringify(csp)}`);
    assert.ok(!JSON.stringify(csp).includes('unsafe-inline'), JSON.stringify(csp));

    const enforcing = await start('enforce');
    const seen: Record<string, Seen> = {};
    try {
      for (const path of ['/', '/about']) seen[path] = await visit(browser, enforcing.base, path);
    } finally {
      await enforcing.stop();
    }
    const expected = {
      '/': {
        homeInlineRan: true,
        aboutInlineRan: undefined,
        appRan: true,
        aboutRan: undefined,
        items: 3,
        pressed: 'home',
        image: 24,
        h1: 'rgb(102, 51, 153)',
        footer: 'rgb(90, 90, 90)',
        styled: 'rgb(0, 0, 255)',
        banner: `url("${new URL('/static/dot.svg', enforcing.base).href}")`,
        bannerLoaded: ['/static/dot.svg'],
      },
      '/about': {
        homeInlineRan: undefined,
        aboutInlineRan: true,
        appRan: true,
        aboutRan: true,
        items: 3,
        pressed: 'about',
        image: 24,
        h1: 'rgb(165, 42, 42)',
        footer: 'rgb(90, 90, 90)',
        styled: 'rgb(255, 0, 0)',
        banner: `url("${new URL('/static/stripe.svg', enforcing.base).href}")`,
        bannerLoaded: ['/static/stripe.svg'],
      },
    } as const;
    for (const [path, page] of Object.entries(seen)) {
      const context = `${path}\npolicy: ${page.policy}\nlearned: ${JSON.stringify(csp)}`;
      assert.match(page.encoding ?? '', /^(br|gzip|deflate)$/, `${path} came compressed`);
      assert.ok(page.policy?.includes("default-src 'none'"), `${path} is enforced: ${context}`);
      assert.deepEqual(page.violations, [], context);
      assert.deepEqual(page.failed, [], context);
      assert.deepEqual(page.state, expected[path as keyof typeof expected], context);
      assert.deepEqual(page.loaded, LOADED[path as keyof typeof LOADED], context);
      assert.match(page.stylesheetEncoding ?? '', /^(br|gzip|deflate)$/);
    }
    assert.deepEqual(violationLines(enforcing.stderr()), []);
  } finally {
    await browser.close();
  }
});
