// Durable workflows end to end (DESIGN.md §4-5): spawning and awaiting
// tasks, the cairn.v1.Tasks service, retries, idempotent calls and inline
// writes inside workflows, memoized steps (until, atLeastOnce, atMostOnce),
// Loop, tasks scheduled by writers, and resuming after a restart.
import { create, fromBinary } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AtMostOnceFailed,
  Code,
  ConnectError,
  Loop,
  Task,
  atLeastOnce,
  atMostOnce,
  hmacTokenVerifier,
  signHmacToken,
  until,
  type ExternalContext,
  type StandardSchema,
  type WriterContext,
} from "@cairn-dev/cairn";
import type { TestApplication } from "@cairn-dev/cairn/testing";
import { TaskStatus, type TaskInfo, type Tasks } from "../generated/cairn/v1/tasks_pb.js";
import { startProbeApp } from "./fixtures/probe-app.js";
import { tasksClient } from "./fixtures/tasks-client.js";
import { Probe, ProbeSpec, RunAborted } from "../generated/probe/v1/probe_cairn.js";
import {
  ProbeErrorSchema,
  RunResponseSchema,
  type Probe as ProbeState,
  type RunResponse,
  type ScheduleRunRequest,
} from "../generated/probe/v1/probe_pb.js";
import { ProbeServicerImpl, defineScenario } from "./fixtures/probe-servicer.js";
import { eventually, within, rejectionOf } from "./fixtures/waiting.js";

const RETRY = { initialMs: 20, multiplier: 2, maxMs: 200 };

/** Per-scenario counters and timestamps, keyed by the test's own names. */
const count = new Map<string, number>();
const bump = (name: string) => {
  const n = (count.get(name) ?? 0) + 1;
  count.set(name, n);
  return n;
};
const countOf = (name: string) => count.get(name) ?? 0;
const stamps = new Map<string, number[]>();
/** When, by the app's clock (which tests move forward instead of waiting). */
const stamp = (name: string, t = app.clock.now()) => {
  const list = stamps.get(name) ?? [];
  list.push(t);
  stamps.set(name, list);
};
const stampsOf = (name: string) => stamps.get(name) ?? [];

// ---- scenarios -------------------------------------------------------------

defineScenario("echo", async (ctx, req) => {
  bump(`echo:${ctx.actorId}`);
  stamp(`echo:${ctx.actorId}`);
  return { result: `echo ${req.target}`, value: req.n };
});

defineScenario("flaky", async (ctx) => {
  stamp(`flaky:${ctx.actorId}`, performance.now());
  const run = bump(`flaky:${ctx.actorId}`);
  if (run <= 3) throw new Error(`flaky run ${run}`);
  return { result: "recovered", value: BigInt(run) };
});

defineScenario("abort", async (ctx) => {
  bump(`abort:${ctx.actorId}`);
  throw new RunAborted(create(ProbeErrorSchema, { reason: "not today" }));
});

defineScenario("pay", async (ctx, req) => {
  await Probe.ref(req.target).idempotently("pay").add(ctx, { amount: 1n });
  const run = bump(`pay:${ctx.actorId}`);
  if (run <= 3) throw new Error(`pay run ${run}`);
  return { result: "paid" };
});

defineScenario("noIdem", async (ctx, req) => {
  bump(`noIdem:${ctx.actorId}`);
  await Probe.ref(req.target).add(ctx, { amount: 1n });
  return { result: "should not get here" };
});

defineScenario("unidem", async (ctx, req) => {
  await Probe.ref(req.target).unidempotently().add(ctx, { amount: 1n });
  const run = bump(`unidem:${ctx.actorId}`);
  if (run <= 3) throw new Error(`unidem run ${run}`);
  return { result: "done" };
});

defineScenario("dupAlias", async (ctx, req) => {
  bump(`dupAlias:${ctx.actorId}`);
  await Probe.ref(req.target).idempotently("same").add(ctx, { amount: 1n });
  await Probe.ref(req.target).idempotently("same").add(ctx, { amount: 1n });
  return { result: "should not get here" };
});

defineScenario("writes", async (ctx, _req, self) => {
  await self.state.write("w", ctx, (s) => {
    s.counter += 1n;
  });
  await self.state.unidempotently().write(ctx, (s) => {
    s.log.push("u");
  });
  await self.state.idempotently("x").write(ctx, (s) => {
    s.counter += 10n;
  });
  const run = bump(`writes:${ctx.actorId}`);
  if (run <= 3) throw new Error(`writes run ${run}`);
  return { result: "written" };
});

type Rich = { big: bigint; bytes: Uint8Array; n: number; nested: { list: bigint[] } };
const observedRich: Rich[] = [];
defineScenario("aloRich", async (ctx) => {
  const v = await atLeastOnce("rich", ctx, (): Rich => {
    bump(`aloRich-fn:${ctx.actorId}`);
    return { big: 2n ** 70n, bytes: new Uint8Array([0, 1, 254, 255]), n: 5, nested: { list: [1n, -2n] } };
  });
  observedRich.push(v);
  const run = bump(`aloRich:${ctx.actorId}`);
  if (run <= 2) throw new Error(`aloRich run ${run}`);
  return { result: "ok", value: v.big >> 10n }; // 2^70 does not fit the int64 reply
});

defineScenario("aloThrow", async (ctx) => {
  const v = await atLeastOnce("b", ctx, () => {
    const n = bump(`aloThrow-fn:${ctx.actorId}`);
    if (n <= 2) throw new Error(`fn call ${n}`);
    return 7n;
  });
  const run = bump(`aloThrow:${ctx.actorId}`);
  if (run <= 2) throw new Error(`after step, run ${run}`);
  return { value: v };
});

defineScenario("aloInvalid", async (ctx) => {
  await atLeastOnce("v", ctx, () => "not a number" as unknown as number, {
    validate: (x): x is number => typeof x === "number",
  });
  const run = bump(`aloInvalid:${ctx.actorId}`);
  if (run <= 1) throw new Error("retry so the memo is read back");
  return { result: "should not get here" };
});

function schemaOf<T>(check: (v: unknown) => v is T, tag: string): StandardSchema<T & { tag: string }> {
  return {
    "~standard": {
      version: 1,
      vendor: "test",
      validate: (v: unknown) =>
        check(v) ? { value: { ...(v as object), tag } as T & { tag: string } } : { issues: [{ message: `not a ${tag}` }] },
    },
  };
}
const isPoint = (v: unknown): v is { x: bigint } =>
  typeof v === "object" && v !== null && typeof (v as { x: unknown }).x === "bigint";
const observedPoints: unknown[] = [];
defineScenario("aloSchemaOk", async (ctx) => {
  const p = await atLeastOnce("p", ctx, () => ({ x: 3n }) as { x: bigint } & { tag: string }, {
    schema: schemaOf(isPoint, "point"),
  });
  observedPoints.push(p);
  const run = bump(`aloSchemaOk:${ctx.actorId}`);
  if (run <= 1) throw new Error("retry so the memo is read back");
  return { value: p.x, result: p.tag };
});
defineScenario("aloSchemaBad", async (ctx) => {
  await atLeastOnce("p", ctx, () => ({ x: "three" }) as unknown as { x: bigint } & { tag: string }, {
    schema: schemaOf(isPoint, "point"),
  });
  const run = bump(`aloSchemaBad:${ctx.actorId}`);
  if (run <= 1) throw new Error("retry so the memo is read back");
  return { result: "should not get here" };
});

defineScenario("amo", async (ctx) => {
  const v = await atMostOnce("m", ctx, () => {
    bump(`amo-fn:${ctx.actorId}`);
    return 9n;
  });
  const run = bump(`amo:${ctx.actorId}`);
  if (run <= 2) throw new Error(`amo run ${run}`);
  return { value: v };
});

const amoCaught: unknown[] = [];
defineScenario("amoThrow", async (ctx) => {
  const run = bump(`amoThrow:${ctx.actorId}`);
  try {
    await atMostOnce("charge", ctx, () => {
      bump(`amoThrow-fn:${ctx.actorId}`);
      throw new TypeError("card declined");
    });
  } catch (e) {
    if (run === 1) throw e; // an unexpected error: the task is retried
    amoCaught.push(e);
    return { result: "gave up" };
  }
  return { result: "should not get here" };
});

defineScenario("untilFlag", async (ctx, _req, self) => {
  const flag = await until("flag", ctx, async () => {
    bump(`untilFlag-fn:${ctx.actorId}`);
    return (await self.state.read(ctx)).flag;
  });
  return { result: `flag=${flag}` };
});

defineScenario("untilOther", async (ctx, req) => {
  const counter = await until("other", ctx, async () => {
    bump(`untilOther-fn:${ctx.actorId}`);
    const view = await Probe.ref(req.target).get(ctx);
    return view.flag && view.counter;
  });
  return { result: "other changed", value: counter };
});

defineScenario("untilMemo", async (ctx, _req, self) => {
  await until("flag", ctx, async () => {
    bump(`untilMemo-fn:${ctx.actorId}`);
    return (await self.state.read(ctx)).flag;
  });
  const run = bump(`untilMemo:${ctx.actorId}`);
  if (run <= 1) throw new Error("retry after until converged");
  return { result: "memoized" };
});

const iterations = new Map<string, number[]>();
defineScenario("loop", async (ctx, _req, self) => {
  iterations.set(ctx.actorId, [...(iterations.get(ctx.actorId) ?? []), ctx.iteration]);
  await self.state.write("tick", ctx, (s) => {
    s.counter += 1n;
  });
  // One retry inside iteration 1: the alias must stay idempotent within it.
  if (ctx.iteration === 1 && bump(`loop-retry:${ctx.actorId}`) === 1) throw new Error("retry iteration 1");
  if (ctx.iteration < 2) return new Loop();
  return { value: (await self.state.read(ctx)).counter };
});

defineScenario("loopWhen", async (ctx, req) => {
  stamp(`loopWhen:${ctx.actorId}`);
  if (ctx.iteration === 0) return new Loop({ when: app.clock.now() + Number(req.n) });
  return { result: `iteration ${ctx.iteration}` };
});

let restartPreCalls = 0;
let restartRuns = 0;
defineScenario("restart", async (ctx, _req, self) => {
  const pre = await atLeastOnce("pre", ctx, () => {
    restartPreCalls++;
    return 42n;
  });
  restartRuns++;
  await until("flag", ctx, async () => (await self.state.read(ctx)).flag);
  return { result: "resumed", value: pre };
});

defineScenario("dupStep", async (ctx) => {
  bump(`dupStep:${ctx.actorId}`);
  await atLeastOnce("s", ctx, () => 1);
  await atLeastOnce("s", ctx, () => 2);
  return { result: "should not get here" };
});

defineScenario("dupWrite", async (ctx, _req, self) => {
  bump(`dupWrite:${ctx.actorId}`);
  await self.state.write("w", ctx, (s) => {
    s.counter += 1n;
  });
  await self.state.write("w", ctx, (s) => {
    s.counter += 1n;
  });
  return { result: "should not get here" };
});

/**
 * The probe, plus a scheduleRun that fails after scheduling when delay_ms is
 * 13, and counts its delay on the app's clock.
 */
let lastScheduledId: string | undefined;
class ProbeWithFailingSchedule extends ProbeServicerImpl {
  override async scheduleRun(ctx: WriterContext, _state: ProbeState, req: ScheduleRunRequest) {
    const reply = { taskId: Probe.ref(ctx.actorId).schedule({ when: app.clock.now() + Number(req.delayMs) }).run(ctx, req.run) };
    lastScheduledId = reply.taskId;
    if (req.delayMs === 13n) throw new Error("the writer fails after scheduling");
    return reply;
  }
}

// ---- harness ---------------------------------------------------------------

let app: TestApplication;
let ctx: ExternalContext;
let tasks: Client<typeof Tasks>;

/** Listing tasks is an operator call: the client carries an admin token. */
const ADMIN_SECRET = "workflow-test-secret";
const ADMIN_TOKEN = signHmacToken({ sub: "ops", cairn_admin: true }, ADMIN_SECRET);
const adminTasks = (url: string): Client<typeof Tasks> => tasksClient(url, ADMIN_TOKEN);

beforeAll(async () => {
  ({ app, ctx, tasks } = await startProbeApp({
    servicers: [ProbeWithFailingSchedule],
    retry: RETRY,
    tokenVerifier: hmacTokenVerifier(ADMIN_SECRET),
    tasksToken: ADMIN_TOKEN,
  }));
});
afterAll(() => app?.stop());

const waitInfo = (taskId: string): Promise<TaskInfo> => within(tasks.wait({ taskId }), undefined, `Tasks.Wait ${taskId}`);

const HOUR = 3_600_000;

/**
 * The sync point for "it did not run (again)": past the longest backoff on
 * the app's clock, a workflow called now runs through the same dispatcher
 * after every timer already due has fired and started its run.
 */
let markers = 0;
async function dispatcherCaughtUp(): Promise<void> {
  app.clock.advance(RETRY.maxMs);
  expect((await within(Probe.ref(`wf-marker-${++markers}`).run(ctx, { scenario: "echo", target: "marker" }))).result).toBe("echo marker");
}

async function failedWith(task: Task<RunResponse>): Promise<TaskInfo> {
  const err = await rejectionOf(task);
  expect(ConnectError.from(err).code).toBe(Code.Internal);
  const info = await waitInfo(task.taskId);
  expect(info.status).toBe(TaskStatus.FAILED);
  return info;
}

// ---- 1. spawning and awaiting ---------------------------------------------

describe("spawning and awaiting workflows", () => {
  it("a direct call spawns the workflow and waits for its response", async () => {
    const res = await within(Probe.ref("direct").run(ctx, { scenario: "echo", target: "x", n: 5n }));
    expect(res.result).toBe("echo x");
    expect(res.value).toBe(5n);
    expect(countOf("echo:direct")).toBe(1);
  });

  it("spawn returns a Task at once; awaiting it gives the response", async () => {
    const task = Probe.ref("spawned").spawn().run(ctx, { scenario: "echo", target: "y", n: 6n });
    expect(task.taskId).toMatch(/^[A-Za-z0-9_-]{1,128}$/);
    await within(task.started);
    const res = await within(task);
    expect(res.result).toBe("echo y");
    expect(res.value).toBe(6n);
    // Awaiting again gives the same answer without running it again.
    expect((await within(task)).result).toBe("echo y");
    expect(countOf("echo:spawned")).toBe(1);
  });

  it("spawn({ when }) does not run before `when`, and runs after", async () => {
    const when = app.clock.now() + HOUR;
    const task = Probe.ref("later").spawn({ when }).run(ctx, { scenario: "echo", target: "z" });
    await within(task.started);
    const pending = await tasks.get({ taskId: task.taskId });
    expect(pending.status).toBe(TaskStatus.SCHEDULED);
    expect(pending.runAtMs).toBe(BigInt(when));
    await dispatcherCaughtUp();
    expect(countOf("echo:later")).toBe(0);
    app.clock.advance(HOUR);
    expect((await within(task)).result).toBe("echo z");
    expect(countOf("echo:later")).toBe(1);
    expect(stampsOf("echo:later")[0]).toBeGreaterThanOrEqual(when);
  });

  it("a Task is re-obtained by id over the wire: Tasks.Get/Wait/List and new Task(id)", async () => {
    const when = app.clock.now() + HOUR;
    const task = Probe.ref("by-id").spawn({ when }).run(ctx, { scenario: "echo", target: "w", n: 9n });
    await within(task.started);

    const listed = await tasks.list({ actorId: "by-id" });
    expect(listed.tasks.map((t) => t.taskId)).toEqual([task.taskId]);
    expect(listed.tasks[0]!.stateType).toBe("probe.v1.Probe");
    expect(listed.tasks[0]!.method).toBe("run");
    const scheduled = await tasks.list({ status: TaskStatus.SCHEDULED, actorId: "by-id" });
    expect(scheduled.tasks.map((t) => t.taskId)).toEqual([task.taskId]);

    // Another client, knowing only the id, waits for the outcome.
    app.clock.advance(HOUR);
    const other = app.context();
    const again = new Task<RunResponse>(task.taskId, other, ProbeSpec.methods.run!);
    const [waited, viaHandle] = await Promise.all([waitInfo(task.taskId), within(again)]);
    expect(waited.status).toBe(TaskStatus.COMPLETED);
    expect(fromBinary(RunResponseSchema, waited.response).value).toBe(9n);
    expect(viaHandle.value).toBe(9n);

    const got = await tasks.get({ taskId: task.taskId });
    expect(got.status).toBe(TaskStatus.COMPLETED);
    expect(got.actorId).toBe("by-id");
    expect(fromBinary(RunResponseSchema, got.response).result).toBe("echo w");
    expect((await tasks.list({ status: TaskStatus.SCHEDULED, actorId: "by-id" })).tasks).toEqual([]);
    expect((await tasks.list({ status: TaskStatus.COMPLETED, actorId: "by-id" })).tasks).toHaveLength(1);
  });

  it("an idempotent spawn names one task, run once", async () => {
    const ref = Probe.ref("idem-spawn").idempotently("start");
    const a = ref.spawn().run(ctx, { scenario: "echo", target: "once" });
    await within(a.started);
    const b = ref.spawn().run(ctx, { scenario: "echo", target: "once" });
    await within(b.started);
    expect(b.taskId).toBe(a.taskId);
    expect((await within(b)).result).toBe("echo once");
    expect((await tasks.list({ actorId: "idem-spawn" })).tasks).toHaveLength(1);
    expect(countOf("echo:idem-spawn")).toBe(1);
  });

  it("Tasks.Get and Tasks.Wait of an unknown id are NOT_FOUND", async () => {
    const get = await rejectionOf(tasks.get({ taskId: "no-such-task" }));
    expect(ConnectError.from(get).code).toBe(Code.NotFound);
    const wait = await rejectionOf(tasks.wait({ taskId: "no-such-task" }));
    expect(ConnectError.from(wait).code).toBe(Code.NotFound);
  });
});

// ---- 2. retries and declared errors ----------------------------------------

describe("retries", () => {
  it("an unexpected error is retried with growing backoff until the workflow returns", async () => {
    const task = Probe.ref("flaky").spawn().run(ctx, { scenario: "flaky" });
    const res = await within(task);
    expect(res).toMatchObject({ result: "recovered", value: 4n });
    expect(countOf("flaky:flaky")).toBe(4);
    const t = stampsOf("flaky:flaky");
    const gaps = t.slice(1).map((x, i) => x - t[i]!);
    const expected = [RETRY.initialMs, RETRY.initialMs * RETRY.multiplier, RETRY.initialMs * RETRY.multiplier ** 2];
    // No run came before its backoff (±25% jitter) was over.
    for (const [i, gap] of gaps.entries()) expect(gap).toBeGreaterThanOrEqual(0.7 * expected[i]!);
    const info = await tasks.get({ taskId: task.taskId });
    // Growing: the delays the runtime chose, as recorded (a run's lateness on
    // a loaded machine is no part of it). "next in" is measured against real
    // time, so the clock's offset is in each and cancels out in a difference.
    const delays = info.history.filter((e) => e.kind === "retried").map((e) => Number(/next in (\d+) ms/.exec(e.detail)?.[1]));
    expect(delays).toHaveLength(3);
    expect(delays[2]! - delays[0]!).toBeGreaterThanOrEqual(0.75 * expected[2]! - 1.25 * expected[0]! - 2);
    expect(info.status).toBe(TaskStatus.COMPLETED);
    expect(info.attempts).toBe(3);
    expect(info.lastError).toContain("flaky run 3");
  });

  it("a declared error ends the task ABORTED, typed at the caller, run exactly once", async () => {
    const task = Probe.ref("aborter").spawn().run(ctx, { scenario: "abort" });
    const err = await rejectionOf(task);
    expect(err).toBeInstanceOf(RunAborted);
    expect((err as RunAborted).error.reason).toBe("not today");
    const info = await tasks.get({ taskId: task.taskId });
    expect(info.status).toBe(TaskStatus.ABORTED);
    expect(info.error?.typeName).toBe("probe.v1.ProbeError");
    // A direct call gets the same typed error.
    const direct = await rejectionOf(Probe.ref("aborter2").run(ctx, { scenario: "abort" }));
    expect(direct).toBeInstanceOf(RunAborted);
    expect((direct as RunAborted).error.reason).toBe("not today");
    await dispatcherCaughtUp();
    expect(countOf("abort:aborter")).toBe(1);
    expect(countOf("abort:aborter2")).toBe(1);
  });
});

// ---- 3. idempotent calls from workflows -------------------------------------

describe("calls from workflows", () => {
  it("idempotently(alias) applies a writer call once across retries", async () => {
    const res = await within(Probe.ref("payer").run(ctx, { scenario: "pay", target: "payee" }));
    expect(res.result).toBe("paid");
    expect(countOf("pay:payer")).toBe(4);
    expect((await Probe.ref("payee").get(ctx)).counter).toBe(1n);
  });

  it("a writer call without idempotently/unidempotently fails the task and sends nothing", async () => {
    const task = Probe.ref("careless").spawn().run(ctx, { scenario: "noIdem", target: "careless-target" });
    const info = await failedWith(task);
    expect(info.lastError).toContain(".idempotently");
    expect(countOf("noIdem:careless")).toBe(1); // FAILED, not retried
    expect((await Probe.ref("careless-target").get(ctx)).counter).toBe(0n);
  });

  it("unidempotently() applies the call on every run", async () => {
    await within(Probe.ref("unidem").run(ctx, { scenario: "unidem", target: "unidem-target" }));
    expect(countOf("unidem:unidem")).toBe(4);
    expect((await Probe.ref("unidem-target").get(ctx)).counter).toBe(4n);
  });

  it("the same alias twice in one run fails the task with a clear message", async () => {
    const task = Probe.ref("dup").spawn().run(ctx, { scenario: "dupAlias", target: "dup-target" });
    const info = await failedWith(task);
    expect(info.lastError).toMatch(/twice in one run.*"same"/);
    expect(countOf("dupAlias:dup")).toBe(1);
    expect((await Probe.ref("dup-target").get(ctx)).counter).toBe(1n);
  });
});

describe("aliases", () => {
  it("the same step alias twice in one run fails the task with a clear message", async () => {
    const info = await failedWith(Probe.ref("dup-step").spawn().run(ctx, { scenario: "dupStep" }));
    expect(info.lastError).toContain('atLeastOnce("s") is used twice in one run');
    expect(countOf("dupStep:dup-step")).toBe(1);
  });

  it("the same state.write alias twice in one run fails the task, applying only the first", async () => {
    const info = await failedWith(Probe.ref("dup-write").spawn().run(ctx, { scenario: "dupWrite" }));
    expect(info.lastError).toMatch(/twice in one run.*"w"/);
    expect(countOf("dupWrite:dup-write")).toBe(1);
    expect((await Probe.ref("dup-write").get(ctx)).counter).toBe(1n);
  });
});

// ---- 4. inline writes --------------------------------------------------------

describe("this.state writes", () => {
  it("write(alias) and idempotently(alias) apply once; unidempotently() on every run", async () => {
    await within(Probe.ref("writer").run(ctx, { scenario: "writes" }));
    expect(countOf("writes:writer")).toBe(4);
    const view = await Probe.ref("writer").get(ctx);
    expect(view.counter).toBe(11n);
    expect(view.log).toEqual(["u", "u", "u", "u"]);
  });
});

// ---- 5. atLeastOnce ------------------------------------------------------------

describe("atLeastOnce", () => {
  it("stores the result: later runs return it (BigInt, Uint8Array intact) without calling fn", async () => {
    const res = await within(Probe.ref("alo").run(ctx, { scenario: "aloRich" }));
    expect(res.value).toBe(2n ** 60n);
    expect(countOf("aloRich:alo")).toBe(3);
    expect(countOf("aloRich-fn:alo")).toBe(1);
    expect(observedRich).toHaveLength(3);
    for (const v of observedRich.slice(1)) {
      expect(typeof v.big).toBe("bigint");
      expect(v.big).toBe(2n ** 70n);
      expect(v.bytes).toBeInstanceOf(Uint8Array);
      expect([...v.bytes]).toEqual([0, 1, 254, 255]);
      expect(v.n).toBe(5);
      expect(v.nested.list).toEqual([1n, -2n]);
    }
  });

  it("a throwing fn stores nothing: it is called again on the next run", async () => {
    const res = await within(Probe.ref("alo-throw").run(ctx, { scenario: "aloThrow" }));
    expect(res.value).toBe(7n);
    expect(countOf("aloThrow-fn:alo-throw")).toBe(3); // two throws, then a value
    expect(countOf("aloThrow:alo-throw")).toBe(3); // the runs that got past the step; not re-called after
  });

  it("a stored value failing validate() fails the task; the app keeps working", async () => {
    const task = Probe.ref("alo-invalid").spawn().run(ctx, { scenario: "aloInvalid" });
    const info = await failedWith(task);
    expect(info.lastError).toContain("MemoValidationError");
    expect(info.lastError).toContain('"v"');
    expect(countOf("aloInvalid:alo-invalid")).toBe(1);
    const after = await within(Probe.ref("alo-after").run(ctx, { scenario: "echo", target: "still fine" }));
    expect(after.result).toBe("echo still fine");
  });

  it("a Standard Schema checks (and may transform) the stored value, both ways", async () => {
    const ok = await within(Probe.ref("alo-schema").run(ctx, { scenario: "aloSchemaOk" }));
    expect(ok).toMatchObject({ value: 3n, result: "point" });
    expect(observedPoints[1]).toEqual({ x: 3n, tag: "point" });

    const bad = Probe.ref("alo-schema-bad").spawn().run(ctx, { scenario: "aloSchemaBad" });
    const info = await failedWith(bad);
    expect(info.lastError).toContain("MemoValidationError");
    expect(info.lastError).toContain("not a point");
  });
});

// ---- 6. atMostOnce ---------------------------------------------------------------

describe("atMostOnce", () => {
  it("calls fn once even when the workflow retries", async () => {
    const res = await within(Probe.ref("amo").run(ctx, { scenario: "amo" }));
    expect(res.value).toBe(9n);
    expect(countOf("amo:amo")).toBe(3);
    expect(countOf("amo-fn:amo")).toBe(1);
  });

  it("a throw is stored and re-thrown later as AtMostOnceFailed, without calling fn", async () => {
    const res = await within(Probe.ref("amo-throw").run(ctx, { scenario: "amoThrow" }));
    expect(res.result).toBe("gave up");
    expect(countOf("amoThrow:amo-throw")).toBe(2);
    expect(countOf("amoThrow-fn:amo-throw")).toBe(1);
    expect(amoCaught).toHaveLength(1);
    const e = amoCaught[0] as AtMostOnceFailed;
    expect(e).toBeInstanceOf(AtMostOnceFailed);
    expect(e.name).toBe("TypeError");
    expect(e.message).toBe("card declined");
    expect(e.alias).toBe("charge");
  });
});

// ---- 7. until ----------------------------------------------------------------------

describe("until", () => {
  it("does not re-run while nothing it read changes, then wakes on the commit", async () => {
    // How fast it wakes is a benchmark's question, not this test's.
    const id = "until-quiet";
    const task = Probe.ref(id).spawn().run(ctx, { scenario: "untilFlag" });
    // A witness: the same wait on another actor, woken after the unrelated commits.
    const witness = Probe.ref(`${id}-witness`).spawn().run(ctx, { scenario: "untilFlag" });
    await eventually(() => countOf(`untilFlag-fn:${id}`) === 1, "first evaluation");
    await eventually(() => countOf(`untilFlag-fn:${id}-witness`) === 1, "the witness's first evaluation");
    // Commits to other actors: none of them may wake it.
    for (let i = 0; i < 20; i++) await Probe.ref(`${id}-unrelated`).unidempotently().add(ctx, { amount: 1n });
    // Once the witness's own commit has woken it, the wakes of the earlier commits have come and gone.
    await Probe.ref(`${id}-witness`).unidempotently().setFlag(ctx, { flag: true });
    expect((await within(witness)).result).toBe("flag=true");
    expect(countOf(`untilFlag-fn:${id}`)).toBe(1);
    expect((await tasks.get({ taskId: task.taskId })).status).toBe(TaskStatus.RUNNING);

    await Probe.ref(id).unidempotently().setFlag(ctx, { flag: true });
    expect((await within(task)).result).toBe("flag=true");
    expect(countOf(`untilFlag-fn:${id}`)).toBe(2);
  });

  it("wakes when another actor it read through a reader call changes", async () => {
    const task = Probe.ref("watcher").spawn().run(ctx, { scenario: "untilOther", target: "watched" });
    await eventually(() => countOf("untilOther-fn:watcher") === 1, "first evaluation");
    await dispatcherCaughtUp();
    expect(countOf("untilOther-fn:watcher")).toBe(1);
    await Probe.ref("watched").unidempotently().add(ctx, { amount: 5n }); // a change, but still falsy
    await eventually(() => countOf("untilOther-fn:watcher") === 2, "re-evaluation after a commit");
    await Probe.ref("watched").unidempotently().setFlag(ctx, { flag: true });
    const res = await within(task);
    expect(res).toMatchObject({ result: "other changed", value: 5n });
    expect(countOf("untilOther-fn:watcher")).toBe(3);
  });

  it("is memoized once converged: a retry does not call fn again", async () => {
    await Probe.ref("until-memo").unidempotently().setFlag(ctx, { flag: true });
    const res = await within(Probe.ref("until-memo").run(ctx, { scenario: "untilMemo" }));
    expect(res.result).toBe("memoized");
    expect(countOf("untilMemo:until-memo")).toBe(2);
    expect(countOf("untilMemo-fn:until-memo")).toBe(1);
  });
});

// ---- 8. Loop -----------------------------------------------------------------------

describe("Loop", () => {
  it("re-runs as the next iteration with aliases scoped per iteration", async () => {
    const task = Probe.ref("looper").spawn().run(ctx, { scenario: "loop" });
    const res = await within(task);
    expect(res.value).toBe(3n);
    expect(iterations.get("looper")).toEqual([0, 1, 1, 2]);
    expect((await Probe.ref("looper").get(ctx)).counter).toBe(3n);
    const info = await tasks.get({ taskId: task.taskId });
    expect(info.iteration).toBe(2);
  });

  it("Loop({ when }) delays the next iteration", async () => {
    const res = await within(Probe.ref("loop-when").run(ctx, { scenario: "loopWhen", n: 250n }));
    expect(res.result).toBe("iteration 1");
    const [first, second] = stampsOf("loopWhen:loop-when");
    expect(second! - first!).toBeGreaterThanOrEqual(250);
  });
});

// ---- 9. tasks scheduled by a writer ------------------------------------------------

describe("schedule from a writer", () => {
  it("the task exists once the writer commits, and runs after its delay", async () => {
    const before = app.clock.now();
    const reply = await Probe.ref("sched").unidempotently().scheduleRun(ctx, {
      run: { scenario: "echo", target: "scheduled", n: 3n },
      delayMs: BigInt(HOUR),
    });
    expect(reply.taskId).not.toBe("");
    const info = await tasks.get({ taskId: reply.taskId });
    expect(info.status).toBe(TaskStatus.SCHEDULED);
    expect(info.actorId).toBe("sched");
    expect(info.method).toBe("run");
    expect(Number(info.runAtMs)).toBeGreaterThanOrEqual(before + HOUR);
    const listed = await tasks.list({ actorId: "sched" });
    expect(listed.tasks.map((t) => t.taskId)).toContain(reply.taskId);
    await dispatcherCaughtUp();
    expect(countOf("echo:sched")).toBe(0);
    app.clock.advance(HOUR);

    const done = await waitInfo(reply.taskId);
    expect(done.status).toBe(TaskStatus.COMPLETED);
    expect(fromBinary(RunResponseSchema, done.response)).toMatchObject({ result: "echo scheduled", value: 3n });
    expect(countOf("echo:sched")).toBe(1);
    expect(stampsOf("echo:sched")[0]).toBeGreaterThanOrEqual(Number(info.runAtMs));
  });

  it("a writer that fails after scheduling leaves no task", async () => {
    lastScheduledId = undefined;
    const err = await rejectionOf(
      Probe.ref("sched-fail").unidempotently().scheduleRun(ctx, { run: { scenario: "echo" }, delayMs: 13n }),
    );
    expect(ConnectError.from(err).code).toBe(Code.Internal);
    expect(lastScheduledId).toBeDefined();
    const get = await rejectionOf(tasks.get({ taskId: lastScheduledId! }));
    expect(ConnectError.from(get).code).toBe(Code.NotFound);
    expect((await tasks.list({ actorId: "sched-fail" })).tasks).toEqual([]);
    await dispatcherCaughtUp();
    expect(countOf("echo:sched-fail")).toBe(0);
  });

  it("a retried writer call (same idempotency key) schedules one task, not two", async () => {
    const ref = Probe.ref("sched-idem").idempotently({ key: "sched-idem-key" });
    const req = { run: { scenario: "echo", target: "once" }, delayMs: 50n };
    const a = await ref.scheduleRun(ctx, req);
    const b = await ref.scheduleRun(ctx, req);
    expect(b.taskId).toBe(a.taskId);
    expect((await waitInfo(a.taskId)).status).toBe(TaskStatus.COMPLETED);
    expect((await tasks.list({ actorId: "sched-idem" })).tasks).toHaveLength(1);
    await dispatcherCaughtUp();
    expect(countOf("echo:sched-idem")).toBe(1);
  });
});

// ---- 10. restart -------------------------------------------------------------------

describe("restart", () => {
  it("a workflow waiting in until resumes after restart with its memoized steps intact", async () => {
    const task = Probe.ref("survivor").spawn().run(ctx, { scenario: "restart" });
    await within(task.started);
    await eventually(() => restartRuns === 1, "first run reaching until");
    expect(restartPreCalls).toBe(1);

    await within(app.restart(), 15_000, "restart");
    // Recovered: re-run from the top, back to waiting in until.
    await eventually(() => restartRuns === 2, "the recovered run");
    const fresh = app.context();
    const info = await adminTasks(app.url).get({ taskId: task.taskId });
    expect([TaskStatus.RUNNING, TaskStatus.SCHEDULED]).toContain(info.status);

    await Probe.ref("survivor").unidempotently().setFlag(fresh, { flag: true });
    const res = await within(new Task<RunResponse>(task.taskId, fresh, ProbeSpec.methods.run!));
    expect(res).toMatchObject({ result: "resumed", value: 42n });
    expect(restartPreCalls).toBe(1);
    // A waiting until holds no memory: the wake is a third run from the top.
    expect(restartRuns).toBe(3);
  });
});
