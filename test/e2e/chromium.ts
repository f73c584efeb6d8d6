// What the browser end-to-end tests share: Debian's Chromium (or
// CAIRN_CHROMIUM), its flags on this machine, the loud skip when it is
// missing, and the Vite build of the page under test.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("../../", import.meta.url));

export const CHROMIUM = process.env.CAIRN_CHROMIUM ?? "/usr/bin/chromium";
export const HAVE_CHROMIUM = existsSync(CHROMIUM);
export const SKIP_REASON = `${CHROMIUM} not found (install Debian's chromium: apt-get install -y chromium)`;

/** Chromium's flags for this machine: no sandbox (root), no background network. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Says loudly, once per file, that `what` is skipped: it never passes without having run. */
export function warnIfNoChromium(what: string): void {
  if (!HAVE_CHROMIUM) warnSkipped(what, SKIP_REASON);
}

/** The loud line every browser test prints when its browser is missing. */
export function warnSkipped(what: string, reason: string): void {
  const bar = "!".repeat(78);
  console.warn(`\n${bar}\n!! SKIPPED: ${what}: ${reason}\n${bar}\n`);
}

/** Builds a page with the repository's Vite (`config` relative to the repository). */
export function viteBuild(config: string): Promise<void> {
  const args = [path.join(REPO, "node_modules/vite/bin/vite.js"), "build", "--config", config];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d));
    child.stderr.on("data", (d: Buffer) => (out += d));
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`vite build --config ${config} exited ${code}:\n${out}`))));
  });
}
