// Headless Chromium for the csp tests (Debian's `chromium`, driven by playwright-core).
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = process.env.LEASH_CHROMIUM ?? '/usr/bin/chromium';

/** A browser with a fresh profile (playwright-core makes a new user data dir per launch). */
export async function launch(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // Deliver Reporting API reports (report-to) at once instead of once a minute.
      '--short-reporting-delay',
      ...extraArgs,
    ],
  });
}
