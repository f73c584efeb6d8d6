// Retention (README "Operating Cairn"): ended tasks with their memos, events
// and progress, and idempotency records, are deleted once their retention
// has passed, in the background and across restarts; running tasks never
// are; a Loop keeps only its current iteration's memos. Time is the test
// clock's, moved forward instead of waited for.
import { AdjustableClock, Application, Code, ConnectError, ExternalContext, Loop, atLeastOnce, sleep, type ApplicationOptions } from "@cairn-dev/cairn";
import type { TestApplication } from "@cairn-dev/cairn/testing";
import { createClient, type Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Schedules } from "../generated/cairn/v1/schedules_pb.js";
import { TaskStatus, type Tasks } from "../generated/cairn/v1/tasks_pb.js";
import { Probe } from "../generated/probe/v1/probe_cairn.js";
import { CronProbe, cronNote } from "./fixtures/cron-probe.js";
import { probeTokens, startProbeApp } from "./fixtures/probe-app.js";
import { PROBE_ADMIN_TOKEN, ProbeServicerImpl, defineScenario } from "./fixtures/probe-servicer.js";
import { peekStore } from "./fixtures/store-peek.js";
import { bearerTransport, taskInStatus } from "./fixtures/tasks-client.js";
import { tempDirs } from "./fixtures/temp-dirs.js";
import { eventually, gates, waitFor, within } from "./fixtures/waiting.js";

const { gate, open, has } = gates();

defineScenario("stepped", async (ctx, req) => {
  const v = await atLeastOnce("double", ctx, () => Number(req.n) * 2);
  ctx.progress({ location: "done", fraction: 1 });
  return { result: "stepped", value: BigInt(v) };
});

defineScenario("gated", async (ctx) => {
  await gate(ctx.actorId);
  return { result: "opened" };
});

// A keyed call, then a sleep longer than the idempotency retention: the
// re-run after the sleep must replay the call, not make it again.
defineScenario("payThenNap", async (ctx, req) => {
  const view = await Probe.ref(req.target).idempotently("pay").add(ctx, { amount: 1n });
  await sleep("nap", ctx, "3h");
  return { result: "paid", value: view.counter };
});

// A control loop: one memoized step and one keyed call per iteration, then the next iteration.
defineScenario("ticker", async (ctx, req) => {
  await atLeastOnce("tick", ctx, () => ctx.iteration);
  await Probe.ref("ticked").idempotently("tick").add(ctx, { amount: 1n });
  if (ctx.iteration < Number(req.n)) return new Loop();
  await gate(ctx.actorId);
  return { result: "ticked", value: BigInt(ctx.iteration) };
});

defineScenario("echo", async (_ctx, req) => ({ result: `echo ${req.target}` }));

let app: TestApplication;
let ctx: ExternalContext;
let tasks: Client<typeof Tasks>;

beforeAll(async () => {
  ({ app, ctx, tasks } = await startProbeApp({ servicers: [CronProbe], retention: { tasks: "1h", idempotency: "1h" }, tokenVerifier: probeTokens() }));
});

afterAll(async () => {
  await app?.stop();
});

/** Whether Tasks.Get says NOT_FOUND (false while the task is still there). */
const notFound = async (taskId: string) => {
  try {
    await tasks.get({ taskId });
    return false;
  } catch (e) {
    return ConnectError.from(e).code === Code.NotFound;
  }
};

/** A task that ends now: once it is gone, a sweep covering what ended before it has run. */
async function endedSentinel(name: string): Promise<string> {
  const task = Probe.ref(name).spawn().run(ctx, { scenario: "echo", target: name });
  await within(task);
  return task.taskId;
}

describe("ended tasks", () => {
  it("are gone once past retention: Get is NOT_FOUND, List omits them, their memos, events and progress leave the store", async () => {
    const task = Probe.ref("old").spawn().run(ctx, { scenario: "stepped", n: 21n });
    expect((await within(task)).value).toBe(42n);
    const before = (await peekStore(app.dataDir, [task.taskId])).tasks[task.taskId]!;
    expect(before).toMatchObject({ record: 1, memos: 1, progress: 1 });
    expect(before.events).toBeGreaterThan(0);

    app.clock.advance("59m");
    const young = await endedSentinel("young");
    app.clock.advance("2m"); // "old" is past 1 h; "young" is not
    await eventually(() => notFound(task.taskId), "the ended task to be deleted");
    expect((await tasks.get({ taskId: young })).status).toBe(TaskStatus.COMPLETED);
    const listed = (await tasks.list({ limit: 1000 })).tasks.map((t) => t.taskId);
    expect(listed).not.toContain(task.taskId);
    expect(listed).toContain(young);
    const after = (await peekStore(app.dataDir, [task.taskId])).tasks[task.taskId];
    expect(after).toEqual({ record: 0, memos: 0, events: 0, progress: 0 });
  });

  it("a running task is never deleted, however old", async () => {
    const running = Probe.ref("runner").spawn().run(ctx, { scenario: "gated" });
    await within(running.started);
    await eventually(() => has("runner"), "the run to reach its gate");
    const sentinel = await endedSentinel("sentinel-run");
    app.clock.advance("3h");
    await eventually(() => notFound(sentinel), "a sweep past the sentinel");
    expect((await tasks.get({ taskId: running.taskId })).status).toBe(TaskStatus.RUNNING);
    open("runner");
    expect((await within(running)).result).toBe("opened");
  });
});

describe("cron schedules", () => {
  it("are kept; their ended runs go like other tasks", async () => {
    const schedules = createClient(Schedules, bearerTransport(app.url, PROBE_ADMIN_TOKEN));
    const view = await Probe.ref("cron-kept").unidempotently().add(ctx, { note: cronNote({ cron: "*/10 * * * *", scenario: "echo" }) });
    const scheduleId = view.log[0]!;
    app.clock.advance("10m");
    const first = await waitFor(async () => (await tasks.list({ actorId: "cron-kept", limit: 10 })).tasks[0], "the first run");
    await taskInStatus(tasks, first.taskId, TaskStatus.COMPLETED);
    app.clock.advance("2h");
    await eventually(() => notFound(first.taskId), "the ended run to be deleted");
    expect((await schedules.list({})).schedules.map((s) => s.scheduleId)).toContain(scheduleId);
    await schedules.delete({ scheduleId });
  });
});

describe("idempotency records", () => {
  it("are gone once past retention: a replay runs the call again", async () => {
    const keyed = () => Probe.ref("idem").idempotently({ key: "deposit-1" }).add(ctx, { amount: 5n });
    expect((await keyed()).counter).toBe(5n);
    expect((await keyed()).counter).toBe(5n); // a replay
    app.clock.advance("2h");
    await waitFor(async () => (await peekStore(app.dataDir, [], ["deposit-1"])).keys["deposit-1"] === 0, "the record to be deleted");
    expect((await keyed()).counter).toBe(10n); // runs again
  });

  it("made by a workflow's calls are kept while it has not ended (its re-run replays them)", async () => {
    const task = Probe.ref("napper").spawn().run(ctx, { scenario: "payThenNap", target: "payee" });
    await within(task.started);
    await taskInStatus(tasks, task.taskId, TaskStatus.SCHEDULED, "the workflow to sleep");
    await Probe.ref("idem-sentinel").idempotently({ key: "sentinel-1" }).add(ctx, { amount: 1n });
    app.clock.advance("2h"); // both records are past 1 h; the workflow still sleeps
    await waitFor(async () => (await peekStore(app.dataDir, [], ["sentinel-1"])).keys["sentinel-1"] === 0, "a sweep");
    app.clock.advance("2h"); // the workflow wakes and runs from the top
    expect((await within(task)).value).toBe(1n);
    expect((await Probe.ref("payee").get(ctx, {})).counter).toBe(1n);
  });
});

describe("Loop", () => {
  it("keeps only the current iteration's memos while it runs on; its earlier iterations' keys expire", async () => {
    const task = Probe.ref("ticker").spawn().run(ctx, { scenario: "ticker", n: 20n });
    await within(task.started);
    await eventually(() => has("ticker"), "iteration 20");
    const peek = await peekStore(app.dataDir, [task.taskId]);
    expect(peek.tasks[task.taskId]!.memos).toBe(1);
    expect(peek.keyCount).toBeGreaterThanOrEqual(21);
    // Every record is past 1 h; only iteration 20's key is still the loop's.
    app.clock.advance("2h");
    await waitFor(async () => (await peekStore(app.dataDir)).keyCount === 1, "earlier iterations' keys to be deleted");
    expect((await tasks.get({ taskId: task.taskId })).status).toBe(TaskStatus.RUNNING);
    expect((await Probe.ref("ticked").get(ctx, {})).counter).toBe(21n);
    open("ticker");
    expect((await within(task)).value).toBe(20n);
  });
});

describe("across restarts", () => {
  const newDir = tempDirs("cairn-retention-");

  it("the expiry index survives: a sweep cut off by a stop goes on after a restart", async () => {
    const dataDir = newDir();
    const clock = new AdjustableClock();
    const start = (retention: ApplicationOptions["retention"]) =>
      new Application({ servicers: [ProbeServicerImpl], dataDir, port: 0, clock, retention }).start();
    // More ended tasks than one deletion batch, made while retention is off.
    let server = await start({ tasks: false });
    const c = new ExternalContext({ url: server.url });
    const ids = await Promise.all(
      Array.from({ length: 250 }, async (_, i) => {
        const t = Probe.ref(`many-${i}`).spawn().run(c, { scenario: "echo", target: String(i) });
        await within(t);
        return t.taskId;
      }),
    );
    c.close();
    await server.stop();
    expect((await peekStore(dataDir)).taskCount).toBe(250);

    clock.advance("2h");
    // Stopped as soon as it started: its first sweep is cut off somewhere.
    server = await start({ tasks: "1h" });
    await server.stop();
    server = await start({ tasks: "1h" });
    try {
      await waitFor(async () => (await peekStore(dataDir)).taskCount === 0, "every expired task to be deleted");
      const peek = await peekStore(dataDir, ids.slice(0, 5));
      for (const id of ids.slice(0, 5)) expect(peek.tasks[id]).toEqual({ record: 0, memos: 0, events: 0, progress: 0 });
    } finally {
      await server.stop();
    }
  });
});

describe("configuration", () => {
  const newDir = tempDirs("cairn-retention-config-");

  it("an invalid duration is refused at start, naming the option or the variable", async () => {
    const bad = new Application({ servicers: [ProbeServicerImpl], dataDir: newDir(), port: 0, retention: { tasks: "7 days" } });
    await expect(bad.start()).rejects.toThrow(/retention\.tasks: bad duration "7 days"/);
    process.env.CAIRN_IDEMPOTENCY_RETENTION = "soon";
    try {
      const fromEnv = new Application({ servicers: [ProbeServicerImpl], dataDir: newDir(), port: 0 });
      await expect(fromEnv.start()).rejects.toThrow(/CAIRN_IDEMPOTENCY_RETENTION: bad duration "soon"/);
    } finally {
      delete process.env.CAIRN_IDEMPOTENCY_RETENTION;
    }
  });
});

