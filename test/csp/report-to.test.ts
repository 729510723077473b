// Over HTTPS (a throwaway certificate for 127.0.0.1, pinned in Chromium), pages name the Reporting
// API endpoint (`report-to` + `Reporting-Endpoints`) and Chromium delivers its reports there: it
// ignores `report-uri` when `report-to` is present, so what leash learns and records came through
// the Reporting API. Chromium reports to it only for HTTPS pages, which is why leash sends
// `report-to` only then (the HTTP side is in endpoint.test.ts and browser.test.ts).
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import {
  CHROMIUM,
  hasChromium,
  launchChromium,
  waitUntil,
} from '../../examples/service/browser.ts';
import { startUnder } from '../runtime/helpers.ts';
import { learnedCsp, recordedViolation } from './recorded.ts';
import { loopbackCertificate } from './tls.ts';

const SERVICE = fileURLToPath(new URL('./fixtures/https-pages.mjs', import.meta.url));
const PAYLOAD = '<script>window.pwned = true</script>';

interface Delivery {
  readonly type: string;
  readonly status: string;
  readonly disposition: unknown;
  readonly directive: unknown;
}

/** The Reporting API reports of a page and how their delivery went, from DevTools. */
async function watchReports(context: BrowserContext, page: Page): Promise<Delivery[]> {
  const seen: Delivery[] = [];
  const cdp = await context.newCDPSession(page);
  const record = (event: {
    report: { type: string; status: string; body: Record<string, unknown> };
  }) =>
    seen.push({
      type: event.report.type,
      status: event.report.status,
      disposition: event.report.body.disposition,
      directive: event.report.body.effectiveDirective,
    });
  cdp.on('Network.reportingApiReportAdded', record);
  cdp.on('Network.reportingApiReportUpdated', record);
  await cdp.send('Network.enable');
  await cdp.send('Network.enableReportingApi', { enable: true });
  return seen;
}

test('csp over HTTPS: report-to reports are delivered, learned, then recorded as violations', {
  skip: hasChromium() ? false : `no Chromium at ${CHROMIUM} (.ci/run installs it)`,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'leash-csp-report-to-'));
  const cert = await loopbackCertificate(dir);
  // The default config: report-to is sent for HTTPS pages.
  writeFileSync(join(dir, 'leash.config.json'), JSON.stringify({ flushIntervalMs: 100 }));
  const policyFile = join(dir, 'leash.policy.json');
  const env = { TLS_KEY_FILE: cert.keyFile, TLS_CERT_FILE: cert.certFile };
  const browser = await launchChromium([`--ignore-certificate-errors-spki-list=${cert.spki}`]);
  try {
    const learning = await startUnder(['learn', '--', process.execPath, SERVICE], {
      cwd: dir,
      env,
    });
    try {
      const context = await browser.newContext();
      const page = await context.newPage();
      const reports = await watchReports(context, page);
      const response = await page.goto(`${learning.base}/`, { waitUntil: 'networkidle' });
      const headers = await response!.allHeaders();
      const reportUrl = /^leash-csp="(\/__leash\/csp-report\?t=[^"]+)"$/.exec(
        headers['reporting-endpoints'] ?? '',
      )?.[1];
      assert.ok(reportUrl, `Reporting-Endpoints: ${headers['reporting-endpoints']}`);
      assert.match(
        headers['content-security-policy-report-only'] ?? '',
        /; report-uri \/__leash\/csp-report\?t=\S+; report-to leash-csp$/,
      );
      await page.click('#go');
      await page.goto(`${learning.base}/hello?name=ann`, { waitUntil: 'networkidle' });
      await waitUntil('the img-src report, learned', () => {
        const home = learnedCsp(policyFile)['/'];
        return home?.['img-src']?.includes("'self'") ? true : undefined;
      });
      assert.ok(
        reports.some((r) => r.type === 'csp-violation' && r.status === 'Success'),
        `delivered through the Reporting API: ${JSON.stringify(reports)}`,
      );
      await context.close();
    } finally {
      await learning.stop();
    }
    const csp = learnedCsp(policyFile);
    assert.deepEqual(csp['/']!['img-src'], ["'self'"], JSON.stringify(csp));
    assert.ok(!JSON.stringify(csp).includes('unsafe-inline'));

    const enforcing = await startUnder(['enforce', '--', process.execPath, SERVICE], {
      cwd: dir,
      env,
    });
    try {
      const context = await browser.newContext();
      await context.addInitScript({
        content: `window.violations = [];
          document.addEventListener('securitypolicyviolation', (e) =>
            window.violations.push(e.effectiveDirective + ' ' + e.blockedURI));`,
      });
      const page = await context.newPage();
      const reports = await watchReports(context, page);
      await page.goto(`${enforcing.base}/`, { waitUntil: 'networkidle' });
      await page.click('#go');
      const home = await page.evaluate(`({
        inlineRan: window.inlineRan,
        clicked: window.clicked,
        image: document.getElementById('own-img').naturalWidth,
        h1: getComputedStyle(document.querySelector('h1')).color,
        violations: window.violations,
      })`);
      assert.deepEqual(home, {
        inlineRan: true,
        clicked: true,
        image: 1,
        h1: 'rgb(102, 51, 153)',
        violations: [],
      });

      await page.goto(`${enforcing.base}/hello?name=${encodeURIComponent(PAYLOAD)}`, {
        waitUntil: 'networkidle',
      });
      const attacked = await page.evaluate(
        '({ helloRan: window.helloRan, pwned: window.pwned, violations: window.violations })',
      );
      assert.deepEqual(attacked, {
        helloRan: true,
        pwned: undefined,
        violations: ['script-src-elem inline'],
      });
      await recordedViolation(dir, /\/hello[\s\S]*script-src[\s\S]*'unsafe-inline'/);
      assert.ok(
        reports.some(
          (r) =>
            r.status === 'Success' &&
            r.disposition === 'enforce' &&
            r.directive === 'script-src-elem',
        ),
        `the XSS report went through the Reporting API: ${JSON.stringify(reports)}`,
      );
      await context.close();
    } finally {
      await enforcing.stop();
    }
  } finally {
    await browser.close();
  }
});
