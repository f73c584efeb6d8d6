// Task progress, history and Tasks.Watch (DESIGN.md §5, "Beyond the
// reference"): ctx.progress() is streamed live to watchers, coalesced
// (written at most about once a second and when the run ends), kept across
// a restart; each task keeps a bounded history of what happened to it.
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { atLeastOnce, type ExternalContext } from "@cairn-dev/cairn";
import type { TestApplication } from "@cairn-dev/cairn/testing";
import { Tasks, TaskStatus, type TaskInfo } from "../generated/cairn/v1/tasks_pb.js";
import { Probe } from "../generated/probe/v1/probe_cairn.js";
import { TASK_HISTORY_LIMIT } from "../src/store/store.js";
import { FAST_RETRY, probeTokens, startProbeApp } from "./fixtures/probe-app.js";
import { defineScenario } from "./fixtures/probe-servicer.js";
import { pause, eventually, rejectionOf, gates as makeGates } from "./fixtures/waiting.js";
import { tasksClient } from "./fixtures/tasks-client.js";

const attempts = new Map<string, number>();
const gates = makeGates();
const { gate, open } = gates;

// Twenty progress reports, a few milliseconds apart, ending at 1; "pr1"
// first waits for its watcher.
defineScenario("prSteps", async (ctx) => {
  if (ctx.actorId === "pr1") await gate("pr1");
  for (let i = 1; i <= 20; i++) {
    ctx.progress({ location: `step ${i}`, fraction: i / 20, remainingMs: (20 - i) * 15 });
    await pause(15);
  }
  return { result: "stepped" };
});

// 10,000 reports in tight loops (yielding now and then), ending at 1.
defineScenario("prTight", async (ctx) => {
  for (let i = 0; i < 10_000; i++) {
    ctx.progress({ location: "tight", fraction: i / 9_999, remainingMs: 9_999 - i });
    if (i % 2_500 === 0) await pause(1);
  }
  return { result: "tight" };
});

// A step, a retry with a reason, then a gate and a checkpoint (paused there).
defineScenario("prHistory", async (ctx) => {
  await atLeastOnce("first", ctx, async () => "one");
  const n = (attempts.get(ctx.actorId) ?? 0) + 1;
  attempts.set(ctx.actorId, n);
  if (n === 1) throw new Error("the flux capacitor is cold");
  await gate(ctx.actorId);
  atCheckpoint.add(ctx.actorId);
  await ctx.checkpoint();
  return { result: "done" };
});
/** Runs that reached their checkpoint: checkpoint() decides at once whether to park. */
const atCheckpoint = new Set<string>();

// 500 durable steps: far more events than the history keeps.
defineScenario("prMany", async (ctx) => {
  for (let i = 0; i < 500; i++) await atLeastOnce(`s${i}`, ctx, async () => i);
  return { result: "many" };
});

// Reports progress, then waits at a gate.
defineScenario("prHold", async (ctx) => {
  ctx.progress({ location: "holding", fraction: 0.25 });
  await gate(ctx.actorId);
  return { result: "held" };
});

let app: TestApplication;
let ctx: ExternalContext;
let tasks: Client<typeof Tasks>;


async function collect(stream: AsyncIterable<TaskInfo>, onFirst?: () => void): Promise<TaskInfo[]> {
  const seen: TaskInfo[] = [];
  for await (const info of stream) {
    seen.push(info);
    if (seen.length === 1) onFirst?.();
  }
  return seen;
}

const kinds = (info: TaskInfo) => info.history.map((e) => e.kind);

beforeAll(async () => {
  ({ app, ctx, tasks } = await startProbeApp({ retry: FAST_RETRY, tokenVerifier: probeTokens() }));
});
afterAll(() => app?.stop());

describe("progress and Tasks.Watch", () => {
  it("streams progress in order to a watcher, and the stream ends when the task completes", async () => {
    const task = Probe.ref("pr1").spawn().run(ctx, { scenario: "prSteps" });
    await task.started;
    // An anonymous caller may watch: knowing the id is enough.
    const seen = await collect(tasksClient(app.url, null).watch({ taskId: task.taskId }), () => open("pr1"));
    expect([TaskStatus.SCHEDULED, TaskStatus.RUNNING]).toContain(seen[0]!.status);
    expect(seen[0]!.progress).toBeUndefined();
    expect(seen.at(-1)!.status).toBe(TaskStatus.COMPLETED);
    expect(seen.slice(0, -1).every((i) => i.status !== TaskStatus.COMPLETED)).toBe(true);
    const fractions = seen.filter((i) => i.progress?.fraction !== undefined).map((i) => i.progress!.fraction!);
    // Live, not just the end: several distinct fractions were seen.
    expect(new Set(fractions).size).toBeGreaterThan(3);
    for (let i = 1; i < fractions.length; i++) expect(fractions[i]!).toBeGreaterThanOrEqual(fractions[i - 1]!);
    expect(fractions.at(-1)).toBe(1);
    expect(seen.at(-1)!.progress).toMatchObject({ location: "step 20", fraction: 1, remainingMs: 0n });
    expect((await task).result).toBe("stepped");
  });

  it("coalesces 10,000 reports into a few writes; Tasks.get shows the newest; it survives a restart", async () => {
    const before = app.stats.progressWrites;
    const task = Probe.ref("pr2").spawn().run(ctx, { scenario: "prTight" });
    expect((await task).result).toBe("tight");
    const writes = app.stats.progressWrites - before;
    expect(writes).toBeGreaterThanOrEqual(1);
    expect(writes).toBeLessThanOrEqual(5);
    const info = await tasks.get({ taskId: task.taskId });
    expect(info.progress).toMatchObject({ location: "tight", fraction: 1, remainingMs: 0n });
    // History: progress events are coalesced too.
    const progressEvents = info.history.filter((e) => e.kind === "progress");
    expect(progressEvents.length).toBeGreaterThanOrEqual(1);
    expect(progressEvents.length).toBeLessThanOrEqual(2);
    expect(progressEvents[0]!.detail).toContain("tight");

    await app.restart();
    tasks = tasksClient(app.url);
    const after = await tasks.get({ taskId: task.taskId });
    expect(after.progress).toMatchObject({ location: "tight", fraction: 1, remainingMs: 0n });
    expect(after.status).toBe(TaskStatus.COMPLETED);
  });

  it("a running task's progress is visible in Tasks.get before the run ends", async () => {
    const task = Probe.ref("pr3").spawn().run(ctx, { scenario: "prHold" });
    await task.started;
    await eventually(() => gates.has("pr3"), "the run to reach the gate");
    const info = await tasks.get({ taskId: task.taskId });
    expect(info.status).toBe(TaskStatus.RUNNING);
    expect(info.progress).toMatchObject({ location: "holding", fraction: 0.25 });
    expect(info.progress!.remainingMs).toBeUndefined();
    open("pr3");
    expect((await task).result).toBe("held");
  });

  it("Watch of an unknown task is NOT_FOUND; of an ended one sends it once and ends", async () => {
    const err = ConnectError.from(await rejectionOf(collect(tasks.watch({ taskId: "no-such-task" }))));
    expect(err.code).toBe(Code.NotFound);
    const task = Probe.ref("pr4").spawn().run(ctx, { scenario: "prSteps" });
    await task;
    const seen = await collect(tasks.watch({ taskId: task.taskId }));
    expect(seen).toHaveLength(1);
    expect(seen[0]!.status).toBe(TaskStatus.COMPLETED);
    expect(seen[0]!.progress?.fraction).toBe(1);
  });
});

describe("history", () => {
  it("records spawned, started, step stored, retried (with the reason), paused, resumed, completed in order", async () => {
    const task = Probe.ref("pr5").spawn().run(ctx, { scenario: "prHistory" });
    await task.started;
    await eventually(() => gates.has("pr5"), "the second run to reach the gate");
    expect((await tasks.pause({ taskId: task.taskId })).status).toBe(TaskStatus.PAUSED);
    open("pr5");
    await eventually(() => atCheckpoint.has("pr5"), "the run to reach its checkpoint");
    expect((await tasks.get({ taskId: task.taskId })).status).toBe(TaskStatus.PAUSED);
    await tasks.resume({ taskId: task.taskId });
    expect((await task).result).toBe("done");
    const info = await tasks.get({ taskId: task.taskId });
    expect(kinds(info)).toEqual(["spawned", "started", "step", "retried", "started", "paused", "resumed", "completed"]);
    const [spawned, , step, retried] = info.history;
    expect(spawned!.detail).toBe('probe.v1.Probe("pr5").run');
    expect(step!.detail).toContain('"first" stored');
    expect(retried!.detail).toContain("the flux capacitor is cold");
    const at = info.history.map((e) => Number(e.atMs));
    for (let i = 1; i < at.length; i++) expect(at[i]!).toBeGreaterThanOrEqual(at[i - 1]!);
  });

  it(`is bounded: a workflow storing 500 steps keeps only the newest ${TASK_HISTORY_LIMIT} events`, async () => {
    const task = Probe.ref("pr6").spawn().run(ctx, { scenario: "prMany" });
    expect((await task).result).toBe("many");
    const info = await tasks.get({ taskId: task.taskId });
    expect(TASK_HISTORY_LIMIT).toBe(100);
    expect(info.history).toHaveLength(TASK_HISTORY_LIMIT);
    expect(kinds(info).at(-1)).toBe("completed");
    expect(kinds(info)).not.toContain("spawned");
    const details = info.history.map((e) => e.detail);
    expect(details).toContain('atLeastOnce "s499" stored');
    expect(details).not.toContain('atLeastOnce "s0" stored');
    expect(details).not.toContain('atLeastOnce "s400" stored');
  });

  it("an operator's cancel of a waiting task is recorded once", async () => {
    const task = Probe.ref("pr7").spawn({ when: Date.now() + 3_600_000 }).run(ctx, { scenario: "prSteps" });
    await task.started;
    await tasks.cancel({ taskId: task.taskId });
    const info = await tasks.get({ taskId: task.taskId });
    expect(kinds(info)).toEqual(["spawned", "cancelled"]);
  });
});
