// The web inspector at /__/cairn/ in a real browser: Debian's Chromium,
// headless, driven by playwright-core, against real applications on
// 127.0.0.1 (the probe servicer, in this process, so the test's workflows
// can wait at gates the test opens). Builds the inspector's bundle first
// (a stale dist/inspector would test yesterday's page).
//
// Without /usr/bin/chromium (or CAIRN_CHROMIUM) this file SKIPS, loudly,
// and says so in the test name: it never passes without having run.
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { BrowserContext, Page } from "playwright-core";
import { signHmacToken } from "@cairn-dev/cairn";
import type { TestApplication } from "@cairn-dev/cairn/testing";
import { Probe } from "../../generated/probe/v1/probe_cairn.js";
import { Schedules } from "../../generated/cairn/v1/schedules_pb.js";
import { CronProbe, cronNote } from "../fixtures/cron-probe.js";
import { TaskStatus } from "../../generated/cairn/v1/tasks_pb.js";
import { startProbeApp, probeTokens, type ProbeApp } from "../fixtures/probe-app.js";
import { defineScenario, PROBE_ADMIN_TOKEN, PROBE_TOKEN_SECRET } from "../fixtures/probe-servicer.js";
import { gates as makeGates } from "../fixtures/waiting.js";
import { bearerTransport, taskInStatus } from "../fixtures/tasks-client.js";
import { createClient } from "@connectrpc/connect";
import { CHROMIUM, CHROMIUM_ARGS, HAVE_CHROMIUM, SKIP_REASON, viteBuild, warnIfNoChromium } from "./chromium.js";

vi.setConfig({ testTimeout: 240_000, hookTimeout: 240_000 });
/** expect.poll gives up after 1 s unless told: a browser and a server on busy cores need longer. */
const POLL_MS = 30_000;

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const SCREENSHOTS = path.join(REPO, "test-results", "inspector");

warnIfNoChromium("inspector end-to-end test");

const { gate, open } = makeGates();

// Five progress reports, each after a gate the test opens: progress moves
// only when the test says, so it can watch each step arrive on the page.
defineScenario("inspectSteps", async (ctx) => {
  for (let i = 1; i <= 5; i++) {
    await gate(`${ctx.actorId}-${i}`);
    ctx.progress({ location: `step ${i} of 5`, fraction: i / 5, remainingMs: (5 - i) * 1000 });
  }
  return { result: "all five", value: 5n };
});

const suite = HAVE_CHROMIUM ? describe : describe.skip;
const title = HAVE_CHROMIUM ? "inspector: /__/cairn/ in headless Chromium" : `inspector: SKIPPED because ${SKIP_REASON}`;

suite(title, () => {
  let dev: ProbeApp | undefined;
  let prod: ProbeApp | undefined;
  /** Open mode without insecureDevelopmentMode: the page for anyone, its calls for operators' tokens. */
  let openMode: ProbeApp | undefined;
  let profileDir: string;
  let browser: BrowserContext | undefined;
  /** Console errors and uncaught exceptions of every page but the operators-only refusals. */
  const pageErrors: string[] = [];

  beforeAll(async () => {
    await viteBuild("src/inspector/vite.config.ts");
    await mkdir(SCREENSHOTS, { recursive: true });
    [dev, prod, openMode] = await Promise.all([
      // Development: the page for anyone, operator calls open (insecure mode); CronProbe's writer can schedule a cron.
      startProbeApp({ servicers: [CronProbe], insecureDevelopmentMode: true, tokenVerifier: probeTokens() }),
      // Production's rule: the page only for operators' tokens.
      startProbeApp({ inspector: "operators", tokenVerifier: probeTokens() }),
      startProbeApp({ inspector: true, tokenVerifier: probeTokens() }),
    ]);
    profileDir = await mkdtemp(path.join(os.tmpdir(), "cairn-inspector-chromium-"));
    const { chromium } = await import("playwright-core");
    browser = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 860 },
    });
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all([dev?.app.stop(), prod?.app.stop(), openMode?.app.stop()]);
    if (profileDir) await rm(profileDir, { recursive: true, force: true });
  });

  async function openPage(app: TestApplication, hash = "", collectErrors = true): Promise<Page> {
    const page = await browser!.newPage();
    if (collectErrors) {
      page.on("pageerror", (e) => pageErrors.push(`${page.url()}: ${e.message}`));
      page.on("console", (m) => {
        if (m.type() === "error") pageErrors.push(`${page.url()}: ${m.text()}`);
      });
    }
    await page.goto(`${app.url}/__/cairn/${hash}`);
    return page;
  }

  it("lists the state types with their methods by kind", async () => {
    const page = await openPage(dev!.app);
    await expect.poll(() => page.getByTestId("state-type").allTextContents(), { timeout: POLL_MS }).toEqual(["probe.v1.Probe"]);
    const methods = page.getByTestId("state-types");
    await expect.poll(() => methods.textContent(), { timeout: POLL_MS }).toContain("workflows");
    expect(await methods.textContent()).toContain("scheduleRun");
    await page.screenshot({ path: path.join(SCREENSHOTS, "state-types.png") });
    await page.close();
  });

  it("shows an actor's state and its change after a writer call, pushed (no new request)", async () => {
    const { ctx } = dev!;
    await Probe.ref("inspect-me").add(ctx, { amount: 1n, note: "first" });
    // The actor list finds it by a part of its id.
    const page = await openPage(dev!.app, "#/types/probe.v1.Probe?q=spect-m");
    await expect.poll(() => page.getByTestId("actor-ids").textContent(), { timeout: POLL_MS }).toContain("inspect-me");
    await page.getByRole("link", { name: "inspect-me" }).click();
    const state = page.getByTestId("actor-state");
    await expect.poll(() => state.textContent(), { timeout: POLL_MS }).toContain('"first"');
    let requests = 0;
    page.on("request", () => requests++);
    const started = Date.now();
    await Probe.ref("inspect-me").add(ctx, { amount: 41n, note: "second" });
    await expect.poll(() => state.textContent(), { timeout: POLL_MS }).toContain('"second"');
    const latencyMs = Date.now() - started;
    expect(await state.textContent()).toContain('"counter": "42"');
    // Through the open Actors.Watch stream, not by asking again.
    expect(requests).toBe(0);
    await page.screenshot({ path: path.join(SCREENSHOTS, "actor.png") });
    await page.close();
    console.log(`inspector e2e: a writer's commit reached the page in ${latencyMs} ms (including Playwright's polling)`);
  });

  it("shows a client's task in the list, its progress moving forward, and COMPLETED", async () => {
    const { ctx } = dev!;
    const list = await openPage(dev!.app, "#/tasks");
    const task = Probe.ref("stepper").spawn().run(ctx, { scenario: "inspectSteps" });
    await task.started;
    const row = list.locator(`[data-testid="task-row"][data-task-id="${task.taskId}"]`);
    await expect.poll(() => row.count(), { timeout: POLL_MS }).toBe(1);
    await row.getByRole("link", { name: task.taskId }).click();
    const progress = list.getByTestId("task-progress");
    const fractions: number[] = [];
    for (let i = 1; i <= 5; i++) {
      open(`stepper-${i}`);
      await expect.poll(() => progress.getAttribute("data-fraction"), { timeout: POLL_MS }).toBe(String(i / 5));
      fractions.push(Number(await progress.getAttribute("data-fraction")));
      if (i === 3) await list.screenshot({ path: path.join(SCREENSHOTS, "task.png"), fullPage: true });
    }
    expect(fractions).toEqual([0.2, 0.4, 0.6, 0.8, 1]);
    await expect.poll(() => list.getByTestId("task-status").textContent(), { timeout: POLL_MS }).toBe("COMPLETED");
    await expect.poll(() => list.getByTestId("task-response").textContent(), { timeout: POLL_MS }).toContain('"result": "all five"');
    expect(await list.getByTestId("task-request").textContent()).toContain('"scenario": "inspectSteps"');
    expect(await list.getByTestId("task-history").textContent()).toContain("completed");
    // Back in the list, the row says so too.
    await list.goto(`${dev!.app.url}/__/cairn/#/tasks?status=completed`);
    await expect.poll(() => row.textContent(), { timeout: POLL_MS }).toContain("COMPLETED");
    await list.screenshot({ path: path.join(SCREENSHOTS, "tasks.png") });
    await list.close();
  });

  it("pauses, resumes and cancels a task from its page", async () => {
    const { ctx, tasks } = dev!;
    // Due in an hour: it waits, so only the page's buttons change it.
    const task = Probe.ref("controlled").spawn({ when: Date.now() + 3_600_000 }).run(ctx, { scenario: "inspectSteps" });
    await task.started;
    const page = await openPage(dev!.app, `#/tasks/${task.taskId}`);
    const status = page.getByTestId("task-status");
    await expect.poll(() => status.textContent(), { timeout: POLL_MS }).toBe("SCHEDULED");
    await page.getByRole("button", { name: "Pause" }).click();
    await expect.poll(() => status.textContent(), { timeout: POLL_MS }).toBe("PAUSED");
    expect((await tasks.get({ taskId: task.taskId })).status).toBe(TaskStatus.PAUSED);
    await page.getByRole("button", { name: "Resume" }).click();
    await expect.poll(() => status.textContent(), { timeout: POLL_MS }).toBe("SCHEDULED");
    page.once("dialog", (d) => void d.accept());
    await page.getByRole("button", { name: "Cancel" }).click();
    await expect.poll(() => status.textContent(), { timeout: POLL_MS }).toBe("CANCELLED");
    await taskInStatus(tasks, task.taskId, TaskStatus.CANCELLED);
    // An ended task has no buttons.
    expect(await page.getByRole("button", { name: "Pause" }).count()).toBe(0);
    // A phone-sized window: everything wraps, nothing scrolls sideways.
    await page.setViewportSize({ width: 390, height: 844 });
    await expect.poll(() => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), { timeout: POLL_MS }).toBe(true);
    await page.screenshot({ path: path.join(SCREENSHOTS, "task-narrow.png"), fullPage: true });
    await page.close();
  });

  it("shows a cron schedule with its next run, and deletes it from the page", async () => {
    const { ctx } = dev!;
    const scheduleId = (await Probe.ref("cron-owner").unidempotently().add(ctx, { note: cronNote({ cron: "0 9 * * *" }) })).log[0]!;
    const schedules = createClient(Schedules, bearerTransport(dev!.app.url, PROBE_ADMIN_TOKEN));
    const stored = (await schedules.list({})).schedules.find((s) => s.scheduleId === scheduleId)!;
    const page = await openPage(dev!.app, "#/schedules");
    const row = page.locator(`[data-testid="schedule-row"][data-schedule-id="${scheduleId}"]`);
    await expect.poll(() => row.count(), { timeout: POLL_MS }).toBe(1);
    expect(await row.textContent()).toContain("0 9 * * *");
    expect(await row.textContent()).toContain("cron-owner");
    // The next run is the server's, shown as "in …" (the exact time on hover).
    const next = row.getByTestId("schedule-next-run");
    expect(await next.getAttribute("data-at")).toBe(String(stored.nextRunAtMs));
    expect(await next.textContent()).toMatch(/^in \d/);
    await page.screenshot({ path: path.join(SCREENSHOTS, "schedules.png") });
    page.once("dialog", (d) => void d.accept());
    await row.getByRole("button", { name: "Delete" }).click();
    await expect.poll(() => row.count(), { timeout: POLL_MS }).toBe(0);
    expect((await schedules.list({})).schedules.map((s) => s.scheduleId)).not.toContain(scheduleId);
    await page.close();
  });

  it("is usable in a 390 px wide window: each main view shows, and the page never scrolls sideways", async () => {
    await Probe.ref("narrow-one").add(dev!.ctx, { amount: 7n, note: "a rather long note that must wrap rather than push the page sideways on a phone" });
    const task = Probe.ref("narrow-one").spawn({ when: Date.now() + 3_600_000 }).run(dev!.ctx, { scenario: "inspectSteps" });
    await task.started;
    const page = await openPage(dev!.app);
    await page.setViewportSize({ width: 390, height: 844 });
    const fits = () => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
    const views: Array<[string, string, string]> = [
      ["#/", "state-type", "narrow-types.png"],
      ["#/actors/probe.v1.Probe/narrow-one", "actor-state", "narrow-actor.png"],
      ["#/tasks", "task-row", "narrow-tasks.png"],
      [`#/tasks/${task.taskId}`, "task-status", "narrow-task.png"],
      ["#/schedules", "schedules", "narrow-schedules.png"],
    ];
    for (const [hash, testId, shot] of views) {
      await page.goto(`${dev!.app.url}/__/cairn/${hash}`);
      await expect.poll(() => page.getByTestId(testId).first().isVisible(), { timeout: POLL_MS }).toBe(true);
      await expect.poll(fits, { timeout: POLL_MS }).toBe(true);
      // The navigation stays on screen and in reach.
      expect(await page.getByRole("navigation", { name: "sections" }).getByRole("link", { name: "Tasks" }).isVisible()).toBe(true);
      await page.screenshot({ path: path.join(SCREENSHOTS, shot), fullPage: true });
    }
    await page.close();
  });

  it("in open mode asks for an operator token, refuses another's with a clear message, and opens with an operator's", async () => {
    const page = await openPage(openMode!.app, "", false);
    const field = page.getByLabel("Operator token");
    await expect.poll(() => field.count(), { timeout: POLL_MS }).toBe(1);
    expect(await page.getByTestId("state-type").count()).toBe(0);
    await field.fill(signHmacToken({ sub: "mallory" }, PROBE_TOKEN_SECRET));
    await page.getByRole("button", { name: "Use token" }).click();
    await expect.poll(() => page.getByTestId("token-refused").count(), { timeout: POLL_MS }).toBe(1);
    expect(await page.getByTestId("token-refused").textContent()).toContain("not an operator");
    expect(await page.getByTestId("state-type").count()).toBe(0);
    await page.screenshot({ path: path.join(SCREENSHOTS, "token-refused.png") });
    await page.getByLabel("Operator token").fill(PROBE_ADMIN_TOKEN);
    await page.getByRole("button", { name: "Use token" }).click();
    await expect.poll(() => page.getByTestId("state-type").allTextContents(), { timeout: POLL_MS }).toEqual(["probe.v1.Probe"]);
    await page.close();
    // The cookie is per host, not per port: the other applications' pages must not see it.
    await browser!.clearCookies();
  });

  it("in production gives a non-operator no inspector, and an operator the page", async () => {
    const url = `${prod!.app.url}/__/cairn/`;
    // No token: 401 and the sign-in form, not the page.
    const bare = await fetch(url);
    expect(bare.status).toBe(401);
    const body = await bare.text();
    expect(body).toContain("Operator token");
    expect(body).not.toContain("/__/cairn/assets/");
    // A token without cairn_admin: the same.
    const user = signHmacToken({ sub: "mallory" }, PROBE_TOKEN_SECRET);
    expect((await fetch(url, { headers: { cookie: `cairn_inspector_token=${user}` } })).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: `Bearer ${user}` } })).status).toBe(401);
    // The operator calls refuse it as well.
    const denied = await fetch(`${prod!.app.url}/cairn.v1.Actors/Types`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${user}` },
      body: "{}",
    });
    expect(denied.status).toBe(403);

    // In the browser: the sign-in form; a non-operator's token is refused, saying so; the operator's opens the page.
    const page = await openPage(prod!.app, "", false);
    await expect.poll(() => page.getByLabel("Operator token").count(), { timeout: POLL_MS }).toBe(1);
    expect(await page.getByTestId("state-type").count()).toBe(0);
    expect(await page.getByRole("alert").isVisible()).toBe(false);
    await page.getByLabel("Operator token").fill(user);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").isVisible(), { timeout: POLL_MS }).toBe(true);
    expect(await page.getByRole("alert").textContent()).toContain("not an operator");
    expect(await page.getByTestId("state-type").count()).toBe(0);
    await page.screenshot({ path: path.join(SCREENSHOTS, "sign-in-refused.png") });
    await page.getByLabel("Operator token").fill(PROBE_ADMIN_TOKEN);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByTestId("state-type").allTextContents(), { timeout: POLL_MS }).toEqual(["probe.v1.Probe"]);
    await page.close();
    await browser!.clearCookies();
  });

  it("ships a bundle Safari 16 parses: no regex lookbehind, no class static blocks", async () => {
    const assets = path.join(REPO, "dist", "inspector", "assets");
    const js = (await readdir(assets)).filter((f) => f.endsWith(".js"));
    expect(js.length).toBeGreaterThan(0);
    for (const file of js) {
      const code = await readFile(path.join(assets, file), "utf8");
      expect(code).not.toMatch(/\(\?<[=!]/);
      expect(code).not.toMatch(/\bstatic\s*\{/);
    }
  });

  it("logged no console errors and threw nothing on any page", () => {
    expect(pageErrors).toEqual([]);
  });
});
