// Firefox for the browser end-to-end tests: Debian's firefox-esr (or
// CAIRN_FIREFOX), driven over WebDriver BiDi by puppeteer-core. Playwright
// cannot drive it: its Firefox is a patched build speaking Playwright's own
// protocol (a stock Firefox fails at -juggler-pipe), and that build cannot
// be downloaded here; a stock Firefox speaks BiDi.
import { existsSync } from "node:fs";
import type { Browser } from "puppeteer-core";
import { warnSkipped } from "./chromium.js";

export const FIREFOX = process.env.CAIRN_FIREFOX ?? "/usr/bin/firefox-esr";
export const HAVE_FIREFOX = existsSync(FIREFOX);
export const FIREFOX_SKIP_REASON = `${FIREFOX} not found (install Debian's firefox-esr: apt-get install -y firefox-esr)`;

/** Says loudly, once per file, that `what` is skipped: it never passes without having run. */
export function warnIfNoFirefox(what: string): void {
  if (!HAVE_FIREFOX) warnSkipped(what, FIREFOX_SKIP_REASON);
}

/** Headless Firefox over BiDi, with a fresh profile puppeteer removes on close. */
export async function launchFirefox(): Promise<Browser> {
  const { default: puppeteer } = await import("puppeteer-core");
  return puppeteer.launch({
    browser: "firefox",
    executablePath: FIREFOX,
    headless: true,
    defaultViewport: { width: 1280, height: 860 },
    // No updates, telemetry or captive-portal checks: this machine's network is closed.
    extraPrefsFirefox: { "app.update.enabled": false, "network.captive-portal-service.enabled": false, "datareporting.policy.dataSubmissionEnabled": false },
  });
}
