// Durable sleep (DESIGN.md §5, "Beyond the reference"): the run suspends
// until the wake time, re-runs from the top then (memoized steps return at
// once), survives a restart and fires once. Plus the duration parser.
import type { Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { atLeastOnce, parseDuration, sleep, type ExternalContext } from "@cairn-dev/cairn";
import { TestApplication } from "@cairn-dev/cairn/testing";
import { TaskStatus, type TaskInfo, type Tasks } from "../generated/cairn/v1/tasks_pb.js";
import { tasksClient } from "./fixtures/tasks-client.js";
import { Probe } from "../generated/probe/v1/probe_cairn.js";
import { ProbeServicerImpl, defineScenario } from "./fixtures/probe-servicer.js";
import { pause, eventually } from "./fixtures/waiting.js";

/** Per-actor counters and the times things happened, written by the scenarios. */
const counts = new Map<string, number>();
const bump = (name: string) => counts.set(name, (counts.get(name) ?? 0) + 1).get(name)!;
const countOf = (name: string) => counts.get(name) ?? 0;
const times = new Map<string, number>();

// step "before" (memoized), then sleep req.n ms, then note the time.
defineScenario("nap", async (ctx, req) => {
  bump(`runs:${ctx.actorId}`);
  await atLeastOnce("before", ctx, () => {
    bump(`before:${ctx.actorId}`);
    times.set(`start:${ctx.actorId}`, Date.now());
    return true;
  });
  await sleep("nap", ctx, Number(req.n));
  bump(`after:${ctx.actorId}`);
  times.set(`woke:${ctx.actorId}`, Date.now());
  return { result: "rested" };
});

// The same with a duration string and an absolute Date.
defineScenario("napString", async (ctx) => {
  await sleep("a", ctx, "150ms");
  await sleep("b", ctx, new Date(Date.now() + 100));
  times.set(`woke:${ctx.actorId}`, Date.now());
  return { result: "rested" };
});

// User code that swallows the signal must not get past the sleep.
defineScenario("swallow", async (ctx) => {
  bump(`runs:${ctx.actorId}`);
  try {
    await sleep("nap", ctx, "200ms");
  } catch {
    // the mistake under test
  }
  return { result: `run ${countOf(`runs:${ctx.actorId}`)}` };
});

// A sleep of days, counted: for the dispatcher's timer horizon.
defineScenario("napDays", async (ctx) => {
  bump(`runs:${ctx.actorId}`);
  await sleep("days", ctx, "3d");
  bump(`after:${ctx.actorId}`);
  return { result: "rested" };
});

defineScenario("badDuration", async (ctx) => {
  await sleep("nap", ctx, "5 minutes");
  return { result: "should not get here" };
});

let app: TestApplication;
let ctx: ExternalContext;
let tasks: Client<typeof Tasks>;

beforeAll(async () => {
  app = await TestApplication.start({ servicers: [ProbeServicerImpl], retry: { initialMs: 20, maxMs: 200 } });
  ctx = app.context();
  tasks = tasksClient(app.url, null);
});
afterAll(async () => {
  await app?.stop();
});

const waitInfo = (taskId: string): Promise<TaskInfo> => tasks.wait({ taskId });

describe("sleep", () => {
  it("suspends for ~300 ms, then the workflow continues; the step before it runs once", async () => {
    const task = Probe.ref("nap1").spawn().run(ctx, { scenario: "nap", n: 300n });
    await task.started;
    await eventually(() => countOf("runs:nap1") === 1, 5_000, "first run");
    // Suspended: scheduled at the wake time, nothing counted as a failure.
    await pause(50);
    const waiting = await tasks.get({ taskId: task.taskId });
    expect(waiting.status).toBe(TaskStatus.SCHEDULED);
    expect(Number(waiting.runAtMs)).toBeGreaterThanOrEqual(times.get("start:nap1")! + 300);
    expect(waiting.attempts).toBe(0);
    expect(waiting.lastError).toBe("");

    expect((await task).result).toBe("rested");
    const slept = times.get("woke:nap1")! - times.get("start:nap1")!;
    expect(slept).toBeGreaterThanOrEqual(300);
    expect(slept).toBeLessThan(1_500);
    expect(countOf("before:nap1")).toBe(1);
    expect(countOf("runs:nap1")).toBe(2);
    expect(countOf("after:nap1")).toBe(1);
    const done = await waitInfo(task.taskId);
    expect(done.status).toBe(TaskStatus.COMPLETED);
    expect(done.attempts).toBe(0);
  });

  it("takes duration strings and Dates", async () => {
    const start = Date.now();
    const res = await Probe.ref("nap2").run(ctx, { scenario: "napString" });
    expect(res.result).toBe("rested");
    expect(times.get("woke:nap2")! - start).toBeGreaterThanOrEqual(250);
  });

  it("cannot be skipped by catching its signal", async () => {
    const start = Date.now();
    const res = await Probe.ref("swallow").run(ctx, { scenario: "swallow" });
    expect(Date.now() - start).toBeGreaterThanOrEqual(200);
    expect(res.result).toBe("run 2");
  });

  it("a malformed duration fails the task with a clear error", async () => {
    const task = Probe.ref("bad").spawn().run(ctx, { scenario: "badDuration" });
    await expect(task).rejects.toThrow();
    const info = await waitInfo(task.taskId);
    expect(info.status).toBe(TaskStatus.FAILED);
    expect(info.lastError).toContain('bad duration "5 minutes"');
  });

  it("survives a restart while sleeping and fires once, at the right time", async () => {
    const task = Probe.ref("nap3").spawn().run(ctx, { scenario: "nap", n: 1_500n });
    await task.started;
    await eventually(() => countOf("runs:nap3") === 1, 5_000, "first run");
    const wakeAt = times.get("start:nap3")! + 1_500;
    // Restart once the run has suspended (its task re-scheduled at the wake time).
    for (let i = 0; Number((await tasks.get({ taskId: task.taskId })).runAtMs) < wakeAt; i++) {
      if (i > 500) throw new Error("the task never suspended");
      await pause(5);
    }

    await app.restart();
    // The old client's HTTP/2 session died with the old server.
    tasks = tasksClient(app.url, null);
    const info = await waitInfo(task.taskId);
    expect(info.status).toBe(TaskStatus.COMPLETED);
    expect(times.get("woke:nap3")!).toBeGreaterThanOrEqual(wakeAt);
    expect(times.get("woke:nap3")! - wakeAt).toBeLessThan(1_000);
    expect(countOf("before:nap3")).toBe(1);
    expect(countOf("after:nap3")).toBe(1);
    // Once woken, it stays done: nothing runs again.
    await pause(100);
    expect(countOf("runs:nap3")).toBe(2);
  });
});

describe("a long sleep", () => {
  it("holds no timer while far off; the dispatcher's sweep finds it as its time comes near, also after a restart", async () => {
    const before = app.clock.pendingTimers;
    const task = Probe.ref("nap-days").spawn().run(ctx, { scenario: "napDays" });
    await task.started;
    await eventually(() => countOf("runs:nap-days") === 1, 5_000, "the run to reach the sleep");
    // Suspended for 3 days: its record is in the store, no timer is in memory.
    const dayFromNow = app.clock.now() + 86_400_000;
    await eventually(async () => Number((await tasks.get({ taskId: task.taskId })).runAtMs) > dayFromNow, 5_000, "the suspension");
    await pause(50);
    expect(app.clock.pendingTimers).toBe(before);
    app.clock.advance("2d");
    await pause(100);
    expect(countOf("after:nap-days")).toBe(0);

    await app.restart();
    tasks = tasksClient(app.url, null);
    await pause(100);
    expect(countOf("after:nap-days")).toBe(0);
    app.clock.advance("1d");
    const info = await waitInfo(task.taskId);
    expect(info.status).toBe(TaskStatus.COMPLETED);
    expect(countOf("after:nap-days")).toBe(1);
  });
});

describe("parseDuration", () => {
  it("reads units and combinations", () => {
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("250ms")).toBe(250);
    expect(parseDuration("30s")).toBe(30_000);
    expect(parseDuration("1d")).toBe(86_400_000);
    expect(parseDuration("1.5s")).toBe(1_500);
    expect(parseDuration("2m5s")).toBe(125_000);
    expect(parseDuration(42)).toBe(42);
  });

  it("refuses anything else with a clear error", () => {
    for (const bad of ["", "30", "5 minutes", "1x", "h", "-5s", "1h 30m", "ms"]) {
      expect(() => parseDuration(bad), bad).toThrow(/bad duration/);
    }
    expect(() => parseDuration(-1)).toThrow(/>= 0/);
    expect(() => parseDuration(Number.NaN)).toThrow(/finite/);
  });
});
