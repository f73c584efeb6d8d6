// The inspector's main checks in Firefox (Debian's firefox-esr, headless,
// over WebDriver BiDi with puppeteer-core: see firefox.ts), against a real
// application on 127.0.0.1: the state types, an actor's state live, a task's
// progress to COMPLETED, the task buttons, and no console errors. Chromium
// runs the full set (inspector.test.ts), WebKit the same main checks (inspector-webkit.test.ts).
//
// Without /usr/bin/firefox-esr (or CAIRN_FIREFOX) this file SKIPS, loudly,
// and says so in the test name: it never passes without having run.
import { mkdir } from "node:fs/promises";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Browser, Page } from "puppeteer-core";
import { Probe } from "../../generated/probe/v1/probe_cairn.js";
import { TaskStatus } from "../../generated/cairn/v1/tasks_pb.js";
import { startProbeApp, probeTokens, type ProbeApp } from "../fixtures/probe-app.js";
import { defineScenario } from "../fixtures/probe-servicer.js";
import { gates as makeGates } from "../fixtures/waiting.js";
import { taskInStatus } from "../fixtures/tasks-client.js";
import { viteBuild } from "./chromium.js";
import { FIREFOX_SKIP_REASON, HAVE_FIREFOX, launchFirefox, warnIfNoFirefox } from "./firefox.js";

vi.setConfig({ testTimeout: 240_000, hookTimeout: 240_000 });
/** expect.poll gives up after 1 s unless told: a browser and a server on busy cores need longer. */
const POLL_MS = 30_000;

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const SCREENSHOTS = path.join(REPO, "test-results", "inspector");

warnIfNoFirefox("inspector end-to-end test in Firefox");

const { gate, open } = makeGates();

// Three progress reports, each after a gate the test opens.
defineScenario("firefoxSteps", async (ctx) => {
  for (let i = 1; i <= 3; i++) {
    await gate(`${ctx.actorId}-${i}`);
    ctx.progress({ location: `step ${i} of 3`, fraction: i / 3 });
  }
  return { result: "three", value: 3n };
});

/** The text of the first element `selector` matches, or null while there is none. */
const textOf = (page: Page, selector: string) => page.evaluate((s) => document.querySelector(s)?.textContent ?? null, selector);
const textsOf = (page: Page, selector: string) => page.evaluate((s) => [...document.querySelectorAll(s)].map((e) => e.textContent), selector);

/** Clicks (real input, through the browser) the button whose text is `name`. */
async function clickButton(page: Page, name: string): Promise<void> {
  const button = await page.waitForSelector(`::-p-xpath(//button[normalize-space(.)="${name}"])`, { timeout: POLL_MS });
  await button!.click();
}

const suite = HAVE_FIREFOX ? describe : describe.skip;
const title = HAVE_FIREFOX ? "inspector: /__/cairn/ in headless Firefox" : `inspector in Firefox: SKIPPED because ${FIREFOX_SKIP_REASON}`;

suite(title, () => {
  let dev: ProbeApp | undefined;
  let browser: Browser | undefined;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    await viteBuild("src/inspector/vite.config.ts");
    await mkdir(SCREENSHOTS, { recursive: true });
    [dev, browser] = await Promise.all([startProbeApp({ insecureDevelopmentMode: true, tokenVerifier: probeTokens() }), launchFirefox()]);
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await dev?.app.stop();
  });

  async function openPage(hash = ""): Promise<Page> {
    const page = await browser!.newPage();
    page.on("pageerror", (e) => pageErrors.push(`${page.url()}: ${String(e)}`));
    page.on("console", (m) => {
      if (m.type() === "error") pageErrors.push(`${page.url()}: ${m.text()}`);
    });
    await page.goto(`${dev!.app.url}/__/cairn/${hash}`);
    return page;
  }

  it("lists the state types with their methods by kind", async () => {
    const page = await openPage();
    await expect.poll(() => textsOf(page, '[data-testid="state-type"]'), { timeout: POLL_MS }).toEqual(["probe.v1.Probe"]);
    expect(await textOf(page, '[data-testid="state-types"]')).toContain("workflows");
    await page.screenshot({ path: path.join(SCREENSHOTS, "firefox-state-types.png") });
    await page.close();
  });

  it("shows an actor's state and its change after a writer call", async () => {
    const { ctx } = dev!;
    await Probe.ref("fox").add(ctx, { amount: 1n, note: "first" });
    const page = await openPage("#/types/probe.v1.Probe?q=fo");
    await expect.poll(() => textOf(page, '[data-testid="actor-ids"]'), { timeout: POLL_MS }).toContain("fox");
    await (await page.waitForSelector('[data-testid="actor-ids"] a[href$="/fox"]'))!.click();
    const state = '[data-testid="actor-state"]';
    await expect.poll(() => textOf(page, state), { timeout: POLL_MS }).toContain('"first"');
    await Probe.ref("fox").add(ctx, { amount: 41n, note: "second" });
    await expect.poll(() => textOf(page, state), { timeout: POLL_MS }).toContain('"second"');
    expect(await textOf(page, state)).toContain('"counter": "42"');
    await page.close();
  });

  it("shows a client's task in the list, its progress moving forward, and COMPLETED", async () => {
    const page = await openPage("#/tasks");
    const task = Probe.ref("foxtrot").spawn().run(dev!.ctx, { scenario: "firefoxSteps" });
    await task.started;
    const link = `[data-testid="task-row"][data-task-id="${task.taskId}"] a[href^="#/tasks/"]`;
    await (await page.waitForSelector(link, { timeout: POLL_MS }))!.click();
    const fraction = () => page.evaluate(() => document.querySelector('[data-testid="task-progress"]')?.getAttribute("data-fraction") ?? null);
    for (let i = 1; i <= 3; i++) {
      open(`foxtrot-${i}`);
      await expect.poll(fraction, { timeout: POLL_MS }).toBe(String(i / 3));
    }
    await page.screenshot({ path: path.join(SCREENSHOTS, "firefox-task.png"), fullPage: true });
    await expect.poll(() => textOf(page, '[data-testid="task-status"]'), { timeout: POLL_MS }).toBe("COMPLETED");
    await expect.poll(() => textOf(page, '[data-testid="task-response"]'), { timeout: POLL_MS }).toContain('"result": "three"');
    await page.close();
  });

  it("pauses, resumes and cancels a task from its page", async () => {
    const { ctx, tasks } = dev!;
    const task = Probe.ref("fox-controlled").spawn({ when: Date.now() + 3_600_000 }).run(ctx, { scenario: "firefoxSteps" });
    await task.started;
    const page = await openPage(`#/tasks/${task.taskId}`);
    const status = () => textOf(page, '[data-testid="task-status"]');
    await expect.poll(status, { timeout: POLL_MS }).toBe("SCHEDULED");
    await clickButton(page, "Pause");
    await expect.poll(status, { timeout: POLL_MS }).toBe("PAUSED");
    expect((await tasks.get({ taskId: task.taskId })).status).toBe(TaskStatus.PAUSED);
    await clickButton(page, "Resume");
    await expect.poll(status, { timeout: POLL_MS }).toBe("SCHEDULED");
    page.once("dialog", (d) => void d.accept());
    await clickButton(page, "Cancel");
    await expect.poll(status, { timeout: POLL_MS }).toBe("CANCELLED");
    await taskInStatus(tasks, task.taskId, TaskStatus.CANCELLED);
    await page.close();
  });

  it("logged no console errors and threw nothing on any page", () => {
    expect(pageErrors).toEqual([]);
  });
});
