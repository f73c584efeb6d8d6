// The inspector's main checks in WebKit, Safari's engine (WebKitGTK's
// MiniBrowser, driven by Debian's WebKitWebDriver over W3C WebDriver classic:
// see webkit.ts), against a real application on 127.0.0.1: the state types,
// an actor's state live, a task's progress to COMPLETED, the task buttons,
// and no JavaScript errors. It mirrors inspector-firefox.test.ts; Chromium
// runs the full set (inspector.test.ts). Safari itself is macOS only.
//
// WebDriver classic has no log API, so each page gets an error collector
// injected right after it loads (window.onerror, unhandledrejection,
// console.error); every test then also waits for content only a working
// page renders, which catches a page that failed while loading.
//
// Without /usr/bin/WebKitWebDriver (or CAIRN_WEBKIT_DRIVER) or a display
// this file SKIPS, loudly, and says so in the test name.
import { mkdir } from "node:fs/promises";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { Probe } from "../../generated/probe/v1/probe_cairn.js";
import { TaskStatus } from "../../generated/cairn/v1/tasks_pb.js";
import { startProbeApp, probeTokens, type ProbeApp } from "../fixtures/probe-app.js";
import { defineScenario } from "../fixtures/probe-servicer.js";
import { gates as makeGates } from "../fixtures/waiting.js";
import { taskInStatus } from "../fixtures/tasks-client.js";
import { viteBuild } from "./chromium.js";
import { HAVE_WEBKIT, WEBKIT_SKIP_REASON, WebKitSession, warnIfNoWebKit } from "./webkit.js";

vi.setConfig({ testTimeout: 240_000, hookTimeout: 240_000 });
/** expect.poll gives up after 1 s unless told: a browser and a server on busy cores need longer. */
const POLL_MS = 30_000;

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const SCREENSHOTS = path.join(REPO, "test-results", "inspector");

warnIfNoWebKit("inspector end-to-end test in WebKit");

const { gate, open } = makeGates();

// Three progress reports, each after a gate the test opens.
defineScenario("webkitSteps", async (ctx) => {
  for (let i = 1; i <= 3; i++) {
    await gate(`${ctx.actorId}-${i}`);
    ctx.progress({ location: `step ${i} of 3`, fraction: i / 3 });
  }
  return { result: "three", value: 3n };
});

/** Installed once per document: collects what the page throws or logs as an error. */
const COLLECT_ERRORS = `
  if (!window.__cairnErrors) {
    const errors = (window.__cairnErrors = []);
    // WebKit's stacks leave out the message: keep both.
    const stack = (x) => (x?.stack ? "\\n" + x.stack : "");
    window.addEventListener("error", (e) => errors.push("error: " + e.message + stack(e.error)));
    window.addEventListener("unhandledrejection", (e) => errors.push("unhandledrejection: " + String(e.reason) + stack(e.reason)));
    const consoleError = console.error.bind(console);
    console.error = (...args) => { errors.push("console.error: " + args.map(String).join(" ")); consoleError(...args); };
  }`;

const suite = HAVE_WEBKIT ? describe : describe.skip;
const title = HAVE_WEBKIT ? "inspector: /__/cairn/ in WebKit (WebKitGTK MiniBrowser)" : `inspector in WebKit: SKIPPED because ${WEBKIT_SKIP_REASON}`;

suite(title, () => {
  let dev: ProbeApp | undefined;
  let browser: WebKitSession | undefined;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    await viteBuild("src/inspector/vite.config.ts");
    await mkdir(SCREENSHOTS, { recursive: true });
    [dev, browser] = await Promise.all([startProbeApp({ insecureDevelopmentMode: true, tokenVerifier: probeTokens() }), WebKitSession.launch()]);
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await dev?.app.stop();
  });

  // Each test's page is read for errors before the next one replaces it.
  afterEach(async () => {
    if (!browser) return; // beforeAll failed and said why
    const errors = await browser!.execute<string[] | null>("return window.__cairnErrors ?? null");
    const url = await browser!.execute<string>("return location.href");
    for (const e of errors ?? ["the error collector is gone: the page reloaded or was never opened"]) pageErrors.push(`${url}: ${e}`);
  });

  async function openPage(hash = ""): Promise<WebKitSession> {
    // A fresh document each time (a hash-only change would keep the last page).
    await browser!.navigate("about:blank");
    await browser!.navigate(`${dev!.app.url}/__/cairn/${hash}`);
    await browser!.execute(COLLECT_ERRORS);
    return browser!;
  }

  const textOf = (selector: string) => browser!.execute<string | null>("return document.querySelector(arguments[0])?.textContent ?? null", selector);
  const textsOf = (selector: string) => browser!.execute<string[]>("return [...document.querySelectorAll(arguments[0])].map((e) => e.textContent)", selector);

  /** Clicks (the driver's simulated pointer) the button whose text is `name`. */
  async function clickButton(name: string): Promise<void> {
    await browser!.click(await browser!.waitFor({ xpath: `//button[normalize-space(.)="${name}"]` }, POLL_MS));
  }

  it("lists the state types with their methods by kind", async () => {
    const page = await openPage();
    await expect.poll(() => textsOf('[data-testid="state-type"]'), { timeout: POLL_MS }).toEqual(["probe.v1.Probe"]);
    expect(await textOf('[data-testid="state-types"]')).toContain("workflows");
    await page.screenshot(path.join(SCREENSHOTS, "webkit-state-types.png"));
  });

  it("shows an actor's state and its change after a writer call", async () => {
    const { ctx } = dev!;
    await Probe.ref("kit").add(ctx, { amount: 1n, note: "first" });
    const page = await openPage("#/types/probe.v1.Probe?q=ki");
    await expect.poll(() => textOf('[data-testid="actor-ids"]'), { timeout: POLL_MS }).toContain("kit");
    await page.click(await page.waitFor({ css: '[data-testid="actor-ids"] a[href$="/kit"]' }, POLL_MS));
    const state = '[data-testid="actor-state"]';
    await expect.poll(() => textOf(state), { timeout: POLL_MS }).toContain('"first"');
    await Probe.ref("kit").add(ctx, { amount: 41n, note: "second" });
    await expect.poll(() => textOf(state), { timeout: POLL_MS }).toContain('"second"');
    expect(await textOf(state)).toContain('"counter": "42"');
  });

  it("shows a client's task in the list, its progress moving forward, and COMPLETED", async () => {
    const page = await openPage("#/tasks");
    const task = Probe.ref("kitten").spawn().run(dev!.ctx, { scenario: "webkitSteps" });
    await task.started;
    const link = `[data-testid="task-row"][data-task-id="${task.taskId}"] a[href^="#/tasks/"]`;
    await page.click(await page.waitFor({ css: link }, POLL_MS));
    const fraction = () => page.execute<string | null>("return document.querySelector('[data-testid=\"task-progress\"]')?.getAttribute('data-fraction') ?? null");
    for (let i = 1; i <= 3; i++) {
      open(`kitten-${i}`);
      await expect.poll(fraction, { timeout: POLL_MS }).toBe(String(i / 3));
    }
    await page.screenshot(path.join(SCREENSHOTS, "webkit-task.png"));
    await expect.poll(() => textOf('[data-testid="task-status"]'), { timeout: POLL_MS }).toBe("COMPLETED");
    await expect.poll(() => textOf('[data-testid="task-response"]'), { timeout: POLL_MS }).toContain('"result": "three"');
  });

  it("pauses, resumes and cancels a task from its page", async () => {
    const { ctx, tasks } = dev!;
    const task = Probe.ref("kit-controlled").spawn({ when: Date.now() + 3_600_000 }).run(ctx, { scenario: "webkitSteps" });
    await task.started;
    const page = await openPage(`#/tasks/${task.taskId}`);
    const status = () => textOf('[data-testid="task-status"]');
    await expect.poll(status, { timeout: POLL_MS }).toBe("SCHEDULED");
    await clickButton("Pause");
    await expect.poll(status, { timeout: POLL_MS }).toBe("PAUSED");
    expect((await tasks.get({ taskId: task.taskId })).status).toBe(TaskStatus.PAUSED);
    await clickButton("Resume");
    await expect.poll(status, { timeout: POLL_MS }).toBe("SCHEDULED");
    await clickButton("Cancel");
    await expect.poll(() => page.promptText(), { timeout: POLL_MS }).toContain(`Cancel task ${task.taskId}?`);
    await page.acceptPrompt();
    await expect.poll(status, { timeout: POLL_MS }).toBe("CANCELLED");
    await taskInStatus(tasks, task.taskId, TaskStatus.CANCELLED);
  });

  it("threw nothing and logged no console errors on any page", () => {
    expect(pageErrors).toEqual([]);
  });
});
