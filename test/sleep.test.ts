// Durable sleep (DESIGN.md §5, "Beyond the reference"): the run suspends
// until the wake time, re-runs from the top then (memoized steps return at
// once), survives a restart and fires once. Plus the duration parser.
import type { Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { atLeastOnce, sleep, type ExternalContext } from "@cairn-dev/cairn";
import type { TestApplication } from "@cairn-dev/cairn/testing";
import { TaskStatus, type TaskInfo, type Tasks } from "../generated/cairn/v1/tasks_pb.js";
import { suspendedUntil, tasksClient } from "./fixtures/tasks-client.js";
import { Probe } from "../generated/probe/v1/probe_cairn.js";
import { FAST_RETRY, startProbeApp } from "./fixtures/probe-app.js";
import { defineScenario } from "./fixtures/probe-servicer.js";
import { eventually } from "./fixtures/waiting.js";

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
    times.set(`start:${ctx.actorId}`, app.clock.now());
    return true;
  });
  await sleep("nap", ctx, Number(req.n));
  bump(`after:${ctx.actorId}`);
  times.set(`woke:${ctx.actorId}`, app.clock.now());
  return { result: "rested" };
});

// The same with a duration string and an absolute Date.
defineScenario("napString", async (ctx) => {
  await sleep("a", ctx, "150ms");
  await sleep("b", ctx, new Date(app.clock.now() + 100));
  times.set(`woke:${ctx.actorId}`, app.clock.now());
  return { result: "rested" };
});

// User code that swallows the signal must not get past the sleep.
defineScenario("swallow", async (ctx) => {
  bump(`runs:${ctx.actorId}`);
  try {
    await sleep("nap", ctx, "1h");
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

defineScenario("sleepEcho", async () => ({ result: "ran" }));

defineScenario("badDuration", async (ctx) => {
  await sleep("nap", ctx, "5 minutes");
  return { result: "should not get here" };
});

const HOUR = 3_600_000;
let app: TestApplication;
let ctx: ExternalContext;
let tasks: Client<typeof Tasks>;

beforeAll(async () => {
  ({ app, ctx, tasks } = await startProbeApp({ retry: FAST_RETRY, tasksToken: null }));
});
afterAll(() => app?.stop());

const waitInfo = (taskId: string): Promise<TaskInfo> => tasks.wait({ taskId });

const suspended = (taskId: string, wakeAt: number): Promise<TaskInfo> => suspendedUntil(tasks, taskId, wakeAt);

/**
 * The sync point for "it did not wake": a workflow spawned now runs through
 * the same dispatcher, after every timer already due has fired and started
 * its run.
 */
let markers = 0;
async function dispatcherCaughtUp(): Promise<void> {
  expect((await Probe.ref(`sleep-marker-${++markers}`).run(app.context(), { scenario: "sleepEcho" })).result).toBe("ran");
}

describe("sleep", () => {
  it("suspends for an hour (of the app's clock), then the workflow continues; the step before it runs once", async () => {
    const task = Probe.ref("nap1").spawn().run(ctx, { scenario: "nap", n: BigInt(HOUR) });
    await task.started;
    await eventually(() => countOf("runs:nap1") === 1, "first run");
    // Suspended: scheduled at the wake time, nothing counted as a failure.
    const waiting = await suspended(task.taskId, times.get("start:nap1")! + HOUR);
    expect(waiting.attempts).toBe(0);
    expect(waiting.lastError).toBe("");
    await dispatcherCaughtUp();
    expect(countOf("after:nap1")).toBe(0);

    // Real time never gets there: the clock's jump alone wakes it.
    app.clock.advance(HOUR);
    expect((await task).result).toBe("rested");
    const slept = times.get("woke:nap1")! - times.get("start:nap1")!;
    expect(slept).toBeGreaterThanOrEqual(HOUR);
    expect(countOf("before:nap1")).toBe(1);
    expect(countOf("runs:nap1")).toBe(2);
    expect(countOf("after:nap1")).toBe(1);
    const done = await waitInfo(task.taskId);
    expect(done.status).toBe(TaskStatus.COMPLETED);
    expect(done.attempts).toBe(0);
  });

  it("takes duration strings and Dates", async () => {
    const start = app.clock.now();
    const res = await Probe.ref("nap2").run(ctx, { scenario: "napString" });
    expect(res.result).toBe("rested");
    expect(times.get("woke:nap2")! - start).toBeGreaterThanOrEqual(250);
  });

  it("cannot be skipped by catching its signal", async () => {
    const start = app.clock.now();
    const task = Probe.ref("swallow").spawn().run(ctx, { scenario: "swallow" });
    await task.started;
    // The first run swallowed the signal and returned: still suspended, not done.
    await eventually(() => countOf("runs:swallow") === 1, "the first run");
    await suspended(task.taskId, start + HOUR);
    app.clock.advance(HOUR);
    expect((await task).result).toBe("run 2");
  });

  it("a malformed duration fails the task with a clear error", async () => {
    const task = Probe.ref("bad").spawn().run(ctx, { scenario: "badDuration" });
    await expect(task).rejects.toThrow();
    const info = await waitInfo(task.taskId);
    expect(info.status).toBe(TaskStatus.FAILED);
    expect(info.lastError).toContain('bad duration "5 minutes"');
  });

  it("survives a restart while sleeping and fires once, at the right time", async () => {
    const task = Probe.ref("nap3").spawn().run(ctx, { scenario: "nap", n: BigInt(HOUR) });
    await task.started;
    await eventually(() => countOf("runs:nap3") === 1, "first run");
    const wakeAt = times.get("start:nap3")! + HOUR;
    // Restart once the run has suspended (its task re-scheduled at the wake time).
    await suspended(task.taskId, wakeAt);

    await app.restart();
    // The old client's HTTP/2 session died with the old server.
    tasks = tasksClient(app.url, null);
    await dispatcherCaughtUp();
    expect(countOf("after:nap3")).toBe(0);
    app.clock.advance(HOUR);
    const info = await waitInfo(task.taskId);
    expect(info.status).toBe(TaskStatus.COMPLETED);
    expect(times.get("woke:nap3")!).toBeGreaterThanOrEqual(wakeAt);
    expect(countOf("before:nap3")).toBe(1);
    expect(countOf("after:nap3")).toBe(1);
    // Once woken, it stays done (COMPLETED is final): it ran twice, no more.
    expect(countOf("runs:nap3")).toBe(2);
  });
});

describe("a long sleep", () => {
  it("holds no timer while far off; the dispatcher's sweep finds it as its time comes near, also after a restart", async () => {
    const before = app.clock.pendingTimers;
    const task = Probe.ref("nap-days").spawn().run(ctx, { scenario: "napDays" });
    await task.started;
    await eventually(() => countOf("runs:nap-days") === 1, "the run to reach the sleep");
    // Suspended for 3 days: its record is in the store, no timer is in memory.
    const dayFromNow = app.clock.now() + 86_400_000;
    await suspended(task.taskId, dayFromNow);
    expect(app.clock.pendingTimers).toBe(before);
    app.clock.advance("2d");
    await dispatcherCaughtUp();
    expect(countOf("after:nap-days")).toBe(0);

    await app.restart();
    tasks = tasksClient(app.url, null);
    await dispatcherCaughtUp();
    expect(countOf("after:nap-days")).toBe(0);
    app.clock.advance("1d");
    const info = await waitInfo(task.taskId);
    expect(info.status).toBe(TaskStatus.COMPLETED);
    expect(countOf("after:nap-days")).toBe(1);
  });
});
