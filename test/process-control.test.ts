// Process control (DESIGN.md §5, "Beyond the reference"): Tasks.Cancel,
// Pause and Resume; ctx.signal fires on cancel, ctx.checkpoint() parks while
// paused and throws Cancelled once cancelled; durable steps check too; a
// paused task stays paused across a restart.
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { atLeastOnce, sleep, until, type ExternalContext } from "@cairn-dev/cairn";
import type { TestApplication } from "@cairn-dev/cairn/testing";
import { Tasks, TaskStatus } from "../generated/cairn/v1/tasks_pb.js";
import { Probe } from "../generated/probe/v1/probe_cairn.js";
import { FAST_RETRY, probeTokens, startProbeApp } from "./fixtures/probe-app.js";
import { PROBE_ADMIN_TOKEN, defineScenario } from "./fixtures/probe-servicer.js";
import { eventually, rejectionOf, gates as makeGates } from "./fixtures/waiting.js";
import { suspendedUntil, tasksClient } from "./fixtures/tasks-client.js";

const counts = new Map<string, number>();
const bump = (name: string) => counts.set(name, (counts.get(name) ?? 0) + 1).get(name)!;
const countOf = (name: string) => counts.get(name) ?? 0;

/** Gates the scenarios wait at, opened by the tests. */
const gates = makeGates();
const { gate, open } = gates;

// A step whose fn awaits a long operation that honours ctx.signal.
defineScenario("pcLong", async (ctx) => {
  await atLeastOnce("long", ctx, async () => {
    bump(`started:${ctx.actorId}`);
    try {
      await new Promise((_, reject) => {
        const timer = setTimeout(() => reject(new Error("should have been cancelled")), 60_000);
        ctx.signal.addEventListener("abort", () => (clearTimeout(timer), reject(ctx.signal.reason)), { once: true });
      });
    } finally {
      bump(`finally:${ctx.actorId}`);
    }
  });
  bump(`after:${ctx.actorId}`);
  return { result: "should not get here" };
});

// Waits in until for a flag nobody sets.
defineScenario("pcUntil", async (ctx, _req, self) => {
  bump(`runs:${ctx.actorId}`);
  await until("flag", ctx, async () => {
    bump(`checked:${ctx.actorId}`);
    return (await self.state.read(ctx)).flag;
  });
  return { result: "should not get here" };
});

// Waits in until for its flag; counts runs, finally blocks and wakes.
defineScenario("pcUntilFinally", async (ctx, _req, self) => {
  bump(`runs:${ctx.actorId}`);
  try {
    await until("flag", ctx, async () => (await self.state.read(ctx)).flag);
  } finally {
    bump(`finally:${ctx.actorId}`);
  }
  return { result: "through" };
});

// Sleeps for an hour.
defineScenario("pcSleep", async (ctx) => {
  bump(`runs:${ctx.actorId}`);
  await sleep("nap", ctx, "1h");
  return { result: "should not get here" };
});

defineScenario("pcEcho", async (ctx) => {
  bump(`runs:${ctx.actorId}`);
  return { result: "ran" };
});

// Waits at a gate, then checkpoints.
defineScenario("pcCheckpoint", async (ctx) => {
  bump(`runs:${ctx.actorId}`);
  await gate(ctx.actorId);
  bump(`checkpoint:${ctx.actorId}`);
  await ctx.checkpoint();
  bump(`after:${ctx.actorId}`);
  return { result: "done" };
});

// Waits at a gate, then takes a durable step without checkpointing.
defineScenario("pcStep", async (ctx) => {
  await gate(ctx.actorId);
  try {
    await atLeastOnce("next", ctx, () => bump(`step:${ctx.actorId}`));
  } finally {
    bump(`stepped:${ctx.actorId}`);
  }
  return { result: "done" };
});

const RETRY = FAST_RETRY;
let app: TestApplication;
let ctx: ExternalContext;
let tasks: Client<typeof Tasks>;

beforeAll(async () => {
  ({ app, ctx, tasks } = await startProbeApp({ retry: RETRY, tokenVerifier: probeTokens() }));
});
afterAll(() => app?.stop());

const statusOf = async (taskId: string) => (await tasks.get({ taskId })).status;

/**
 * The sync point for "it did not run": a task spawned now runs through the
 * same dispatcher, after every timer already due (a retry, a wake) has
 * fired and started its run. Call it after `app.clock.advance` to give a
 * wrongly armed timer its chance.
 */
let markers = 0;
async function dispatcherCaughtUp(): Promise<void> {
  expect((await Probe.ref(`pc-marker-${++markers}`).run(ctx, { scenario: "pcEcho" })).result).toBe("ran");
}

describe("cancel", () => {
  it("during an atLeastOnce step: the signal fires, finally runs, the task ends CANCELLED, awaiting gets CANCELED", async () => {
    const task = Probe.ref("pc1").spawn().run(ctx, { scenario: "pcLong" });
    await task.started;
    await eventually(() => countOf("started:pc1") === 1, "the step to start");
    expect(await statusOf(task.taskId)).toBe(TaskStatus.RUNNING);

    const info = await tasks.cancel({ taskId: task.taskId });
    expect(info.status).toBe(TaskStatus.CANCELLED);
    const err = ConnectError.from(await rejectionOf(task));
    expect(err.code).toBe(Code.Canceled);
    await eventually(() => countOf("finally:pc1") === 1, "the finally block");
    expect(countOf("after:pc1")).toBe(0);
    expect((await tasks.wait({ taskId: task.taskId })).status).toBe(TaskStatus.CANCELLED);
    // Not retried: past the longest backoff, every due timer has had its turn.
    app.clock.advance(RETRY.maxMs);
    await dispatcherCaughtUp();
    expect(countOf("started:pc1")).toBe(1);
    expect(await statusOf(task.taskId)).toBe(TaskStatus.CANCELLED);

    // Cancelled is final; unknown ids are NOT_FOUND; operators only.
    expect(ConnectError.from(await rejectionOf(tasks.cancel({ taskId: task.taskId }))).code).toBe(Code.FailedPrecondition);
    expect(ConnectError.from(await rejectionOf(tasks.pause({ taskId: task.taskId }))).code).toBe(Code.FailedPrecondition);
    expect(ConnectError.from(await rejectionOf(tasks.cancel({ taskId: "no-such-task" }))).code).toBe(Code.NotFound);
    const anonymous = tasksClient(app.url, null);
    expect(ConnectError.from(await rejectionOf(anonymous.cancel({ taskId: "no-such-task" }))).code).toBe(Code.Unauthenticated);
  });

  it("during until: the wait stops and the task ends CANCELLED", async () => {
    const task = Probe.ref("pc2").spawn().run(ctx, { scenario: "pcUntil" });
    await task.started;
    await eventually(() => countOf("checked:pc2") === 1, "the run to check its until");
    await tasks.cancel({ taskId: task.taskId });
    expect(ConnectError.from(await rejectionOf(task)).code).toBe(Code.Canceled);
    expect(await statusOf(task.taskId)).toBe(TaskStatus.CANCELLED);
    // Neither retried nor woken again.
    await Probe.ref("pc2").unidempotently().setFlag(ctx, { flag: true });
    app.clock.advance(RETRY.maxMs);
    await dispatcherCaughtUp();
    expect(countOf("runs:pc2")).toBe(1);
  });

  it("during sleep: the timer is cleared and the task ends CANCELLED", async () => {
    const task = Probe.ref("pc3").spawn().run(ctx, { scenario: "pcSleep" });
    await task.started;
    await eventually(() => countOf("runs:pc3") === 1, "the run to reach sleep");
    // The run records the wake time, then leaves the dispatcher: only then is it SCHEDULED.
    await suspendedUntil(tasks, task.taskId, app.clock.now() + 30 * 60_000);
    const info = await tasks.cancel({ taskId: task.taskId });
    expect(info.status).toBe(TaskStatus.CANCELLED);
    expect(ConnectError.from(await rejectionOf(task)).code).toBe(Code.Canceled);
  });

  it("a workflow that never checkpoints stops at its next durable step", async () => {
    const task = Probe.ref("pc4").spawn().run(ctx, { scenario: "pcStep" });
    await task.started;
    await eventually(() => gates.has("pc4"), "the run to reach the gate");
    await tasks.cancel({ taskId: task.taskId });
    open("pc4");
    expect(ConnectError.from(await rejectionOf(task)).code).toBe(Code.Canceled);
    await eventually(() => countOf("stepped:pc4") === 1, "the durable step to refuse");
    expect(countOf("step:pc4")).toBe(0);
    expect(await statusOf(task.taskId)).toBe(TaskStatus.CANCELLED);
  });
});

describe("pause and resume", () => {
  it("a paused scheduled task does not run, stays paused across a restart, and runs once resumed", async () => {
    const when = app.clock.now() + 3_600_000;
    const task = Probe.ref("pc5").spawn({ when }).run(ctx, { scenario: "pcEcho" });
    await task.started;
    const paused = await tasks.pause({ taskId: task.taskId });
    expect(paused.status).toBe(TaskStatus.PAUSED);
    // Its time comes (the clock jumps past it) while it is paused.
    app.clock.advance("2h");
    await dispatcherCaughtUp();
    expect(countOf("runs:pc5")).toBe(0);

    await app.restart();
    ctx = app.context();
    tasks = tasksClient(app.url);
    // The restart recovers every due task: a marker spawned after it runs after them.
    await dispatcherCaughtUp();
    expect(countOf("runs:pc5")).toBe(0);
    expect(await statusOf(task.taskId)).toBe(TaskStatus.PAUSED);

    const resumed = await tasks.resume({ taskId: task.taskId });
    expect(resumed.status).toBe(TaskStatus.SCHEDULED);
    const done = await tasks.wait({ taskId: task.taskId });
    expect(done.status).toBe(TaskStatus.COMPLETED);
    expect(countOf("runs:pc5")).toBe(1);
  });

  it("a running workflow parks at its checkpoint while paused and completes once resumed", async () => {
    const ctx2 = app.context();
    const task = Probe.ref("pc6").spawn().run(ctx2, { scenario: "pcCheckpoint" });
    await task.started;
    await eventually(() => gates.has("pc6"), "the run to reach the gate");
    expect((await tasks.pause({ taskId: task.taskId })).status).toBe(TaskStatus.PAUSED);
    open("pc6");
    // checkpoint() decides at once: by the time the poll sees the call, a run it let through has gone on.
    await eventually(() => countOf("checkpoint:pc6") === 1, "the run to reach its checkpoint");
    await dispatcherCaughtUp();
    expect(countOf("after:pc6")).toBe(0);
    expect(await statusOf(task.taskId)).toBe(TaskStatus.PAUSED);

    expect((await tasks.resume({ taskId: task.taskId })).status).not.toBe(TaskStatus.PAUSED);
    expect((await task).result).toBe("done");
    expect(countOf("after:pc6")).toBe(1);
    expect(countOf("runs:pc6")).toBe(1);
    expect(await statusOf(task.taskId)).toBe(TaskStatus.COMPLETED);
  });

  it("the Task handle pauses, resumes and cancels (with an operator's token)", async () => {
    const admin = app.context({ bearerToken: PROBE_ADMIN_TOKEN });
    const task = Probe.ref("pc7").spawn({ when: app.clock.now() + 3_600_000 }).run(admin, { scenario: "pcEcho" });
    await task.pause();
    expect(await statusOf(task.taskId)).toBe(TaskStatus.PAUSED);
    await task.resume();
    expect(await statusOf(task.taskId)).toBe(TaskStatus.SCHEDULED);
    await task.cancel();
    expect(await statusOf(task.taskId)).toBe(TaskStatus.CANCELLED);
    const err = await rejectionOf(task);
    expect(ConnectError.from(err).code).toBe(Code.Canceled);
    // Without the operator's token the handle is refused.
    const anonymous = Probe.ref("pc8").spawn({ when: app.clock.now() + 3_600_000 }).run(ctx, { scenario: "pcEcho" });
    expect(ConnectError.from(await rejectionOf(anonymous.cancel())).code).toBe(Code.Unauthenticated);
    expect(await statusOf(anonymous.taskId)).toBe(TaskStatus.SCHEDULED);
  });
});

describe("suspended until", () => {
  it("a waiting until ends its run (finally runs), shows RUNNING, and a change re-runs it from the top", async () => {
    const task = Probe.ref("pc9").spawn().run(ctx, { scenario: "pcUntilFinally" });
    await task.started;
    await eventually(() => countOf("finally:pc9") === 1, "the run to suspend in until");
    // Nothing in memory runs it now, yet for operators it is still RUNNING.
    expect(countOf("runs:pc9")).toBe(1);
    expect(await statusOf(task.taskId)).toBe(TaskStatus.RUNNING);
    // A change that does not satisfy it re-runs it once and suspends again.
    await Probe.ref("pc9").unidempotently().add(ctx, { amount: 1n });
    await eventually(() => countOf("finally:pc9") === 2, "the re-run after an unrelated change");
    expect(countOf("runs:pc9")).toBe(2);
    await Probe.ref("pc9").unidempotently().setFlag(ctx, { flag: true });
    expect((await task).result).toBe("through");
    expect(countOf("runs:pc9")).toBe(3);
  });

  it("paused while suspended in until: a change does not run it, resume does", async () => {
    const task = Probe.ref("pc10").spawn().run(ctx, { scenario: "pcUntilFinally" });
    await task.started;
    await eventually(() => countOf("finally:pc10") === 1, "the run to suspend in until");
    expect((await tasks.pause({ taskId: task.taskId })).status).toBe(TaskStatus.PAUSED);
    await Probe.ref("pc10").unidempotently().setFlag(ctx, { flag: true });
    // A wake from that commit would start a run before a task spawned after it ends.
    await dispatcherCaughtUp();
    expect(countOf("runs:pc10")).toBe(1);
    expect(await statusOf(task.taskId)).toBe(TaskStatus.PAUSED);
    await tasks.resume({ taskId: task.taskId });
    expect((await task).result).toBe("through");
    expect(countOf("runs:pc10")).toBe(2);
  });
});
