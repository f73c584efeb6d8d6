// The counter example's web page in a real browser: Debian's Chromium,
// headless, driven by playwright-core (`npx playwright install` cannot work
// here; .ci/run installs the apt package). Builds the page with Vite, starts
// examples/counter/server.ts (which serves the page and the API on one
// port), and checks that a write from a Node client shows up on the page,
// that a click on the page shows up in another tab and in Node, and that the
// page never shows a value older than its own increment.
//
// Without /usr/bin/chromium (or CAIRN_CHROMIUM) this file SKIPS, loudly,
// and says so in the test name: it never passes without having run.
import { mkdtemp, rm } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { ExternalContext } from "@cairn-dev/cairn";
import { Counter } from "../../generated/counter/v1/counter_cairn.js";
import { freePort, removeDir, spawnServer, stopServer, tempDataDir, type SpawnedServer } from "./helpers.js";
import { CHROMIUM, CHROMIUM_ARGS, HAVE_CHROMIUM, SKIP_REASON, viteBuild, warnIfNoChromium } from "./chromium.js";

// Server processes with both cores busy: deadlines bound hangs, they never decide a passing test.
vi.setConfig({ testTimeout: 480_000, hookTimeout: 240_000 });
/** expect.poll gives up after 1 s unless told: a browser and a server on busy cores need longer. */
const POLL_MS = 30_000;

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const COUNTER_SERVER = path.join(REPO, "examples/counter/server.ts");

warnIfNoChromium("browser end-to-end test");

const suite = HAVE_CHROMIUM ? describe : describe.skip;
const title = HAVE_CHROMIUM
  ? "browser: the counter page in headless Chromium"
  : `browser: SKIPPED because ${SKIP_REASON}`;

suite(title, () => {
  let server: SpawnedServer | undefined;
  let dataDir: string;
  let profileDir: string;
  let browser: BrowserContext | undefined;
  let node: ExternalContext;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    // Always rebuild: a stale dist/ would test yesterday's page.
    await viteBuild("examples/counter/web/vite.config.ts");
    dataDir = await tempDataDir("cairn-browser-");
    profileDir = await mkdtemp(path.join(os.tmpdir(), "cairn-chromium-"));
    server = await spawnServer({ dataDir, port: await freePort(), script: COUNTER_SERVER });
    node = new ExternalContext({ url: server.url });
    const { chromium } = await import("playwright-core");
    browser = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
    });
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    node?.close();
    if (server && !server.hasExited) await stopServer(server);
    if (dataDir) await removeDir(dataDir);
    if (profileDir) await rm(profileDir, { recursive: true, force: true });
  });

  async function open(counter: string): Promise<Page> {
    const page = await browser!.newPage();
    page.on("pageerror", (e) => pageErrors.push(e.message));
    await page.goto(`${server!.url}/?counter=${encodeURIComponent(counter)}`);
    return page;
  }

  const valueOf = (page: Page) => page.getByTestId("value");

  it("shows a Node client's write live, a click in another tab, and never a value older than its own write", async () => {
    const name = `e2e-${Date.now()}`;
    const page = await open(name);
    await expect.poll(() => valueOf(page).textContent(), { timeout: POLL_MS }).toBe("0");

    // Another client writes: the open page shows it without reloading.
    const started = Date.now();
    await Counter.ref(name).increment(node, { by: 41n, who: "the node client" });
    await expect.poll(() => valueOf(page).textContent(), { timeout: POLL_MS }).toBe("41");
    const latencyMs = Date.now() - started;
    await expect.poll(() => page.getByTestId("last-by").textContent(), { timeout: POLL_MS }).toContain("the node client");

    // A second tab; a click in the first shows up there, and in Node.
    const other = await open(name);
    await expect.poll(() => valueOf(other).textContent(), { timeout: POLL_MS }).toBe("41");
    // Record whether the read-your-writes alarm is ever rendered.
    await page.evaluate(() => {
      const w = window as unknown as { staleSeen: boolean };
      w.staleSeen = false;
      new MutationObserver(() => {
        if (document.querySelector('[data-testid="stale"]')) w.staleSeen = true;
      }).observe(document.body, { subtree: true, childList: true });
    });
    for (let i = 0; i < 5; i++) {
      await page.getByTestId("increment").click();
      await expect.poll(() => page.getByTestId("mine").textContent(), { timeout: POLL_MS }).toBe(`your last increment made it ${42 + 101 * i}`);
      // Another writer in between, to race the page's own refresh.
      await Counter.ref(name).increment(node, { by: 100n, who: "the node client" });
      await expect.poll(() => page.getByTestId("increment").isEnabled(), { timeout: POLL_MS }).toBe(true);
    }
    const total = (await Counter.ref(name).value(node)).value;
    expect(total).toBe(41n + 5n + 500n);
    await expect.poll(() => valueOf(page).textContent(), { timeout: POLL_MS }).toBe(String(total));
    await expect.poll(() => valueOf(other).textContent(), { timeout: POLL_MS }).toBe(String(total));
    expect(await page.evaluate(() => (window as unknown as { staleSeen: boolean }).staleSeen)).toBe(false);
    expect(await page.getByTestId("error").count()).toBe(0);
    expect(pageErrors).toEqual([]);
    console.log(`browser e2e: a Node write reached the page in ${latencyMs} ms (including polling)`);
  }, 240_000);
});
