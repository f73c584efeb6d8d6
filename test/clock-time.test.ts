// Time that decides behaviour, or is stored on a task, is the runtime
// clock's (TestApplication's adjustable clock here), never Date.now(): an
// awaitRemote wait the dispatcher finds due is due to the step too (else the
// run suspends at once again: a hot loop), and a task's createdAt, history
// and progress times follow the clock.
import type { Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { atLeastOnce, awaitRemote, done, running } from "@cairn-dev/cairn";
import type { TestApplication } from "@cairn-dev/cairn/testing";
import { TaskStatus, type Tasks } from "../generated/cairn/v1/tasks_pb.js";
import { Probe } from "../generated/probe/v1/probe_cairn.js";
import { startProbeApp } from "./fixtures/probe-app.js";
import { taskWhen } from "./fixtures/tasks-client.js";
import { defineScenario } from "./fixtures/probe-servicer.js";
import { within } from "./fixtures/waiting.js";

const HOUR = 3_600_000;
const runs = new Map<string, number>();
const checks = new Map<string, number>();
const bump = (m: Map<string, number>, key: string) => {
  const n = (m.get(key) ?? 0) + 1;
  m.set(key, n);
  return n;
};

// The remote job answers "running" to the first check and "done" to the second.
defineScenario("remoteHourly", async (ctx) => {
  bump(runs, ctx.actorId);
  const value = await awaitRemote("job", ctx, {
    start: () => ({ job: ctx.actorId }),
    check: (input) => (bump(checks, ctx.actorId) < 2 ? running(input) : done(`finished ${input.job}`)),
    backoff: { initialMs: HOUR, multiplier: 1, maxMs: HOUR },
  });
  return { result: value };
});

defineScenario("stamped", async (ctx) => {
  ctx.progress({ location: "halfway", fraction: 0.5 });
  await atLeastOnce("step", ctx, () => 1);
  return {};
});

let app: TestApplication;
let tasks: Client<typeof Tasks>;

beforeAll(async () => {
  ({ app, tasks } = await startProbeApp());
});
afterAll(() => app?.stop());

describe("the runtime clock", () => {
  it("an awaitRemote wait ends when the clock passes it: one more check, no hot loop", async () => {
    const ctx = app.context();
    const task = Probe.ref("remote-hourly").spawn().run(ctx, { scenario: "remoteHourly" });
    await task.started;
    // Suspended after the first check, until an hour from now on the clock.
    const soon = app.clock.now() + HOUR / 2;
    await taskWhen(tasks, task.taskId, (info) => Number(info.runAtMs) > soon, "the wait");
    expect(checks.get("remote-hourly")).toBe(1);

    app.clock.advance("1h");
    const response = await within(task, 10_000, "the task after the clock passed its wait");
    expect(response.result).toBe("finished remote-hourly");
    expect((await tasks.get({ taskId: task.taskId })).status).toBe(TaskStatus.COMPLETED);
    expect(checks.get("remote-hourly")).toBe(2);
    // The first run and the one the clock woke; a re-run loop would be many more.
    expect(runs.get("remote-hourly")).toBe(2);
  });

  it("a task's createdAt, history and progress times are the clock's", async () => {
    app.clock.advance("10d");
    const before = app.clock.now();
    const ctx = app.context();
    const task = Probe.ref("stamped").spawn().run(ctx, { scenario: "stamped" });
    await within(task);
    const after = app.clock.now();
    const info = await tasks.get({ taskId: task.taskId });
    const inClock = (ms: bigint) => Number(ms) >= before && Number(ms) <= after;
    expect(inClock(info.createdAtMs)).toBe(true);
    const kinds = info.history.map((e) => e.kind);
    expect(kinds).toEqual(expect.arrayContaining(["spawned", "started", "step", "completed"]));
    for (const e of info.history) expect(inClock(e.atMs), `${e.kind} at ${e.atMs}`).toBe(true);
    expect(info.progress && inClock(info.progress.updatedAtMs)).toBe(true);
  });
});
