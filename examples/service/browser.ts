/**
 * @module
 * The example's pages in a real browser (Debian's `chromium`, driven by playwright-core), for
 * the csp test and the demo: `browseToLearn` visits the pages as a user would while leash learns
 * from the browser's reports; `browseToCheck` visits them again and says what loaded, what ran and
 * which CSP violations the page saw, including for the reflected XSS of /hello.
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = process.env.LEASH_CHROMIUM ?? '/usr/bin/chromium';

/** The script the attacker puts in a /hello link. */
export const XSS_PAYLOAD = '<script>window.pwned = true</script>';

/** The CDN files /gallery loads (cdn.ts). */
export const CDN_PATHS = [
  '/css/site.css',
  '/js/app.js',
  '/img/photo.png',
  '/img/banner.png',
  '/font/site.woff2',
] as const;

export function hasChromium(): boolean {
  return existsSync(CHROMIUM);
}

/** A headless browser with a fresh profile (playwright-core makes one per launch). */
export function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // Deliver Reporting API reports (report-to, HTTPS pages only) at once, not once a minute.
      '--short-reporting-delay',
      ...extraArgs,
    ],
  });
}

/** The pages a user of the service opens, and what they click. */
export async function browseToLearn(browser: Browser, base: string): Promise<void> {
  const page = await browser.newPage();
  try {
    await page.goto(`${base}/gallery`, { waitUntil: 'networkidle' });
    await page.click('#like');
    await page.goto(`${base}/clock`, { waitUntil: 'networkidle' });
    await page.goto(`${base}/hello?name=ann`, { waitUntil: 'networkidle' });
  } finally {
    await page.close();
  }
}

export interface PagesSeen {
  /** The `Content-Security-Policy` header /gallery came with. */
  readonly galleryPolicy: string;
  readonly gallery: {
    readonly inlineRan: unknown;
    readonly cdnScriptRan: unknown;
    readonly liked: unknown;
    /** naturalWidth of the CDN photo, CDN banner, own logo and data: dot (0: not loaded). */
    readonly images: unknown;
    readonly h1Color: unknown;
    readonly font: unknown;
    readonly violations: unknown;
  };
  /** `path status` of every response from the CDN. */
  readonly fromCdn: readonly string[];
  readonly clock: { readonly ran: unknown; readonly violations: unknown };
  /** /hello with the XSS payload in the name. */
  readonly attacked: {
    readonly helloRan: unknown;
    readonly pwned: unknown;
    readonly violations: unknown;
  };
}

/**
 * A page's CSP violations, collected into `window.violations` as `<directive> <blocked URI>`
 * (pass to `context.addInitScript`). Browser-side code as text: the project's TypeScript has no DOM
 * types.
 */
export const COLLECT_VIOLATIONS = `window.violations = [];
  document.addEventListener('securitypolicyviolation', (e) =>
    window.violations.push(e.effectiveDirective + ' ' + e.blockedURI));`;

/** Visits the pages (and the XSS link) and reports what the browser saw. */
export async function browseToCheck(
  browser: Browser,
  base: string,
  cdnBase: string,
): Promise<PagesSeen> {
  const context = await browser.newContext();
  try {
    await context.addInitScript({ content: COLLECT_VIOLATIONS });
    const cdnOrigin = new URL(cdnBase).origin;
    const fromCdn: string[] = [];
    context.on('response', (response) => {
      const url = new URL(response.url());
      if (url.origin === cdnOrigin) fromCdn.push(`${url.pathname} ${response.status()}`);
    });
    const page = await context.newPage();
    const response = await page.goto(`${base}/gallery`, { waitUntil: 'networkidle' });
    const galleryPolicy = (await response?.allHeaders())?.['content-security-policy'] ?? '';
    await page.click('#like');
    const gallery = (await page.evaluate(`(() => {
      const img = (id) => document.getElementById(id).naturalWidth;
      return {
        inlineRan: window.inlineRan,
        cdnScriptRan: window.cdnScriptRan,
        liked: window.liked,
        images: [img('cdn-photo'), img('cdn-banner'), img('own-logo'), img('data-dot')],
        h1Color: getComputedStyle(document.querySelector('h1')).color,
        font: getComputedStyle(document.body).fontFamily,
        violations: window.violations,
      };
    })()`)) as PagesSeen['gallery'];

    await page.goto(`${base}/clock`, { waitUntil: 'networkidle' });
    const clock = (await page.evaluate(
      '({ ran: typeof window.renderedAt, violations: window.violations })',
    )) as PagesSeen['clock'];

    await page.goto(`${base}/hello?name=${encodeURIComponent(XSS_PAYLOAD)}`, {
      waitUntil: 'networkidle',
    });
    const attacked = (await page.evaluate(
      '({ helloRan: window.helloRan, pwned: window.pwned, violations: window.violations })',
    )) as PagesSeen['attacked'];
    return { galleryPolicy, gallery, fromCdn, clock, attacked };
  } finally {
    await context.close();
  }
}

/**
 * Polls until `fn` gives a value: a browser sends its reports a moment after the page, and leash
 * writes what it learned on its next flush.
 */
export async function waitUntil<T>(what: string, fn: () => T | undefined, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = fn();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
