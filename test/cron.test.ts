// Cron schedules (DESIGN.md §5, "Beyond the reference") and the virtual
// clock of TestApplication (§11): schedules fire at the times their
// expression computes, read in their time zone, skip a run while the
// previous one is going, survive restarts, and can be listed and deleted by
// operators. Time is moved with app.clock.advance: no test waits for minutes.
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { hmacTokenVerifier, signHmacToken, sleep, type ExternalContext } from "@cairn-dev/cairn";
import { AdjustableClock, TestApplication } from "@cairn-dev/cairn/testing";
import { Schedules, type ScheduleInfo } from "../generated/cairn/v1/schedules_pb.js";
import { TaskStatus, type TaskInfo, type Tasks } from "../generated/cairn/v1/tasks_pb.js";
import { Probe } from "../generated/probe/v1/probe_cairn.js";
import { CronProbe, cronNote, type CronCommand } from "./fixtures/cron-probe.js";
import { PROBE_ADMIN_TOKEN, PROBE_TOKEN_SECRET, defineScenario } from "./fixtures/probe-servicer.js";
import { bearerTransport, taskInStatus, taskWhen, tasksClient } from "./fixtures/tasks-client.js";
import { eventually } from "./fixtures/waiting.js";

const MINUTE = 60_000;
/**
 * How far before a due time "not yet" is checked. The virtual clock also
 * runs on real time, so this must exceed any stall of a loaded machine
 * between the jump and the check.
 */
const BEFORE_DUE_MS = 10_000;

async function rejectionOf(p: PromiseLike<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (e) {
    return ConnectError.from(e);
  }
  throw new Error("expected a rejection");
}

const runs = new Map<string, string[]>();
const gates = new Map<string, () => void>();

defineScenario("cronEcho", async (ctx) => {
  runs.set(ctx.actorId, [...(runs.get(ctx.actorId) ?? []), ctx.taskId]);
  return { result: "ran" };
});

// Held at a gate until the test opens it: a run still going.
defineScenario("cronGate", async (ctx) => {
  runs.set(ctx.actorId, [...(runs.get(ctx.actorId) ?? []), ctx.taskId]);
  await new Promise<void>((resolve) => gates.set(ctx.taskId, resolve));
  return { result: "done" };
});

defineScenario("cronSleep", async (ctx) => {
  await sleep("nap", ctx, "1h");
  return { result: "woke" };
});

let app: TestApplication;
let ctx: ExternalContext;
let schedules: Client<typeof Schedules>;
let tasks: Client<typeof Tasks>;


function connect(): void {
  ctx = app.context();
  schedules = createClient(Schedules, bearerTransport(app.url, PROBE_ADMIN_TOKEN));
  tasks = tasksClient(app.url);
}

beforeEach(async () => {
  app = await TestApplication.start({
    servicers: [CronProbe],
    retry: { initialMs: 20, maxMs: 200 },
    tokenVerifier: hmacTokenVerifier(PROBE_TOKEN_SECRET),
  });
  connect();
});
afterEach(async () => {
  for (const open of gates.values()) open();
  await app?.stop();
});

/** Schedules a cron from a committed writer on `actor`; returns the schedule id. */
async function scheduleCron(actor: string, cmd: CronCommand): Promise<string> {
  const view = await Probe.ref(actor).unidempotently().add(ctx, { note: cronNote(cmd) });
  return view.log[0]!;
}

async function scheduleOf(id: string): Promise<ScheduleInfo | undefined> {
  return (await schedules.list({})).schedules.find((s) => s.scheduleId === id);
}

async function tasksOf(actor: string): Promise<TaskInfo[]> {
  return (await tasks.list({ actorId: actor })).tasks;
}

/**
 * The sync point for "no run was made": Schedules.Delete goes through the
 * same queue as firing a schedule, so once it answers, every fire that the
 * clock's last jump made due has been recorded.
 */
async function schedulerCaughtUp(): Promise<void> {
  expect((await rejectionOf(schedules.delete({ scheduleId: "sync-point" }))).code).toBe(Code.NotFound);
}

/** Moves the virtual clock to `t` (ms since epoch). */
function advanceTo(t: number): void {
  app.clock.advance(Math.max(0, t - app.clock.now()));
}

/** Puts the clock one minute into a five-minute period, so due times are minutes away. */
function alignToFiveMinutes(): number {
  const now = app.clock.now();
  const start = now - (now % (5 * MINUTE)) + 5 * MINUTE + MINUTE;
  advanceTo(start);
  return start;
}

describe("AdjustableClock", () => {
  it("advance fires every timer it made due, in due order, and leaves the others", async () => {
    const clock = new AdjustableClock();
    const fired: string[] = [];
    const t0 = clock.now();
    clock.setTimer(() => fired.push("3s"), 3_000);
    clock.setTimer(() => fired.push("1s"), 1_000);
    clock.setTimer(() => fired.push("2s"), 2_000);
    clock.setTimer(() => fired.push("1s again"), 1_000);
    const cleared = clock.setTimer(() => fired.push("cleared"), 1_500);
    const late = clock.setTimer(() => fired.push("10h"), 10 * 3_600_000);
    clock.clearTimer(cleared);

    clock.advance("2500ms");
    expect(fired).toEqual(["1s", "1s again", "2s"]);
    expect(clock.now() - t0).toBeGreaterThanOrEqual(2_500);
    clock.advance(500);
    expect(fired).toEqual(["1s", "1s again", "2s", "3s"]);
    clock.advance("9h59m");
    expect(fired).toHaveLength(4);
    clock.advance("1m");
    expect(fired).toEqual(["1s", "1s again", "2s", "3s", "10h"]);
    clock.clearTimer(late); // already fired: a no-op
    expect(() => clock.advance("soon")).toThrow(/bad duration/);

    // Without advancing, timers run on real time.
    // `before` is read first: the timer is due 20 ms after it was set, not after a later read.
    const before = clock.now();
    const real = new Promise<number>((resolve) => clock.setTimer(() => resolve(clock.now()), 20));
    expect(await real).toBeGreaterThanOrEqual(before + 20);
  });

  it("a workflow's durable sleep wakes when the app's clock is advanced", async () => {
    const task = Probe.ref("sleeper").spawn().run(ctx, { scenario: "cronSleep" });
    await task.started;
    await taskWhen(tasks, task.taskId, (info) => Number(info.runAtMs) > app.clock.now() + 30 * MINUTE, "the sleep");
    app.clock.advance("1h");
    expect((await task).result).toBe("woke");
  });
});

describe("cron schedules", () => {
  it("fire at the computed times, and not between", async () => {
    const start = alignToFiveMinutes();
    const id = await scheduleCron("every5", { cron: "*/5 * * * *" });
    const first = start - MINUTE + 5 * MINUTE;
    const info = await scheduleOf(id);
    expect(info?.nextRunAtMs).toBe(BigInt(first));
    expect(info?.cron).toBe("*/5 * * * *");
    expect(info?.timezone).toBe("");
    expect(info?.method).toBe("run");

    advanceTo(first - BEFORE_DUE_MS);
    await schedulerCaughtUp();
    expect(await tasksOf("every5")).toHaveLength(0);

    advanceTo(first);
    await eventually(() => runs.get("every5")?.length === 1, "the first run");
    const [t1] = await tasksOf("every5");
    expect(t1!.runAtMs).toBe(BigInt(first));
    expect(Number(t1!.createdAtMs)).toBeGreaterThanOrEqual(first);
    expect(t1!.scheduleId).toBe(id);
    await taskInStatus(tasks, t1!.taskId, TaskStatus.COMPLETED, "run 1 to end");
    const after1 = await scheduleOf(id);
    expect(after1?.nextRunAtMs).toBe(BigInt(first + 5 * MINUTE));
    expect(after1?.lastTaskId).toBe(t1!.taskId);

    advanceTo(first + 5 * MINUTE - BEFORE_DUE_MS);
    await schedulerCaughtUp();
    expect(await tasksOf("every5")).toHaveLength(1);

    advanceTo(first + 5 * MINUTE);
    await eventually(() => runs.get("every5")?.length === 2, "the second run");
    const second = (await tasksOf("every5"))[1]!;
    expect(second.runAtMs).toBe(BigInt(first + 5 * MINUTE));
    expect(second.scheduleId).toBe(id);
    expect((await scheduleOf(id))?.skipped).toBe(0);
  });

  it("missed runs are caught up once, then the schedule goes on from now", async () => {
    const start = alignToFiveMinutes();
    const id = await scheduleCron("catchup", { cron: "*/5 * * * *" });
    const first = start - MINUTE + 5 * MINUTE;
    app.clock.advance("1h"); // twelve due times pass at once
    await eventually(() => runs.get("catchup")?.length === 1, "the catch-up run");
    const info = await scheduleOf(id);
    expect(Number(info!.nextRunAtMs)).toBe(first + 60 * MINUTE); // the next due time after now
    expect(Number(info!.nextRunAtMs)).toBeGreaterThan(app.clock.now());
    await schedulerCaughtUp();
    expect(await tasksOf("catchup")).toHaveLength(1);
    expect((await tasksOf("catchup"))[0]!.runAtMs).toBe(BigInt(first));
  });

  it("read the expression in the schedule's time zone", async () => {
    const paris = await scheduleCron("tz", { cron: "0 9 * * *", timezone: "Europe/Paris" });
    const utc = await scheduleCron("tz", { cron: "0 9 * * *" });
    expect(paris).not.toBe(utc);
    const parisAt = Number((await scheduleOf(paris))!.nextRunAtMs);
    const utcAt = Number((await scheduleOf(utc))!.nextRunAtMs);
    expect(parisAt).not.toBe(utcAt);
    expect(new Date(utcAt).toISOString()).toMatch(/T09:00:00\.000Z$/);
    const hourInParis = new Intl.DateTimeFormat("en-GB", { timeZone: "Europe/Paris", hour: "2-digit", minute: "2-digit" });
    expect(hourInParis.format(parisAt)).toBe("09:00");
    expect(new Date(parisAt).getUTCHours()).toBeLessThan(9); // Paris is ahead of UTC

    // Each fires at its own instant.
    const [early, late] = parisAt < utcAt ? [paris, utc] : [utc, paris];
    advanceTo(Math.min(parisAt, utcAt));
    await eventually(() => runs.get("tz")?.length === 1, "the earlier zone's run");
    expect((await tasksOf("tz")).map((t) => t.scheduleId)).toEqual([early]);
    advanceTo(Math.max(parisAt, utcAt));
    await eventually(() => runs.get("tz")?.length === 2, "the later zone's run");
    expect((await tasksOf("tz")).map((t) => t.scheduleId)).toEqual([early, late]);
  });

  it("skip a run while the previous one is still going, and count it", async () => {
    const start = alignToFiveMinutes();
    const id = await scheduleCron("overlap", { cron: "* * * * *", scenario: "cronGate" });
    advanceTo(start + MINUTE);
    await eventually(() => runs.get("overlap")?.length === 1, "the first run");
    const [t1] = runs.get("overlap")!;

    advanceTo(start + 2 * MINUTE); // due while run 1 waits at its gate
    await eventually(async () => (await scheduleOf(id))?.skipped === 1, "the skip");
    expect(await tasksOf("overlap")).toHaveLength(1);
    expect((await scheduleOf(id))?.lastTaskId).toBe(t1);

    gates.get(t1!)!();
    await taskInStatus(tasks, t1!, TaskStatus.COMPLETED, "run 1 to end");
    advanceTo(start + 3 * MINUTE);
    await eventually(() => runs.get("overlap")?.length === 2, "the third due time's run");
    const info = await scheduleOf(id);
    expect(info?.skipped).toBe(1);
    expect(info?.lastTaskId).toBe(runs.get("overlap")![1]);
    expect((await tasksOf("overlap")).map((t) => Number(t.runAtMs))).toEqual([start + MINUTE, start + 3 * MINUTE]);
  });

  it("survive a restart", async () => {
    const start = alignToFiveMinutes();
    const id = await scheduleCron("durable", { cron: "*/5 * * * *" });
    await app.restart();
    connect();
    const info = await scheduleOf(id);
    expect(info?.nextRunAtMs).toBe(BigInt(start - MINUTE + 5 * MINUTE));
    advanceTo(start - MINUTE + 5 * MINUTE);
    await eventually(() => runs.get("durable")?.length === 1, "the run after the restart");
    expect((await tasksOf("durable"))[0]!.scheduleId).toBe(id);
  });

  it("are idempotent: the same schedule twice is one; an explicit id is kept", async () => {
    const a = await scheduleCron("idem", { cron: "0 * * * *" });
    const b = await scheduleCron("idem", { cron: "0 * * * *" });
    expect(b).toBe(a);
    const named = await scheduleCron("idem", { cron: "30 * * * *", id: "my-schedule" });
    expect(named).toBe("my-schedule");
    expect((await schedules.list({ actorId: "idem" })).schedules.map((s) => s.scheduleId).sort()).toEqual([a, "my-schedule"].sort());
    // Re-defined under the same id: replaced, still one.
    await scheduleCron("idem", { cron: "45 * * * *", id: "my-schedule" });
    expect((await scheduleOf("my-schedule"))?.cron).toBe("45 * * * *");
    expect((await schedules.list({ actorId: "idem" })).schedules).toHaveLength(2);
  });

  it("are listed, filtered by type and actor, and deleted: no further runs", async () => {
    const start = alignToFiveMinutes();
    const id = await scheduleCron("deleted", { cron: "*/5 * * * *" });
    const other = await scheduleCron("kept", { cron: "*/5 * * * *" });
    expect((await schedules.list({ actorId: "deleted" })).schedules.map((s) => s.scheduleId)).toEqual([id]);
    expect((await schedules.list({ stateType: "probe.v1.Probe" })).schedules).toHaveLength(2);
    expect((await schedules.list({ stateType: "other.Type" })).schedules).toHaveLength(0);

    await schedules.delete({ scheduleId: id });
    expect(await scheduleOf(id)).toBeUndefined();
    advanceTo(start - MINUTE + 5 * MINUTE);
    await eventually(() => runs.get("kept")?.length === 1, "the kept schedule's run");
    await schedulerCaughtUp();
    expect(await tasksOf("deleted")).toHaveLength(0);
    expect(await scheduleOf(other)).toBeDefined();

    expect((await rejectionOf(schedules.delete({ scheduleId: id }))).code).toBe(Code.NotFound);
    expect((await rejectionOf(schedules.delete({ scheduleId: "no-such-schedule" }))).code).toBe(Code.NotFound);
  });

  it("are for operators only", async () => {
    const id = await scheduleCron("ops", { cron: "0 * * * *" });
    const anonymous = createClient(Schedules, bearerTransport(app.url, null));
    expect((await rejectionOf(anonymous.list({}))).code).toBe(Code.Unauthenticated);
    expect((await rejectionOf(anonymous.delete({ scheduleId: id }))).code).toBe(Code.Unauthenticated);
    const user = createClient(Schedules, bearerTransport(app.url, signHmacToken({ sub: "ann" }, PROBE_TOKEN_SECRET)));
    expect((await rejectionOf(user.list({}))).code).toBe(Code.PermissionDenied);
    expect((await rejectionOf(user.delete({ scheduleId: id }))).code).toBe(Code.PermissionDenied);
    expect(await scheduleOf(id)).toBeDefined();
  });

  it("refuse a bad expression, a bad zone or a writer at the call, storing nothing", async () => {
    const bad = await rejectionOf(scheduleCron("bad", { cron: "61 * * * *" }));
    expect(bad.code).toBe(Code.InvalidArgument);
    expect(bad.rawMessage).toMatch(/bad cron expression "61 \* \* \* \*"/);
    const words = await rejectionOf(scheduleCron("bad", { cron: "every monday" }));
    expect(words.code).toBe(Code.InvalidArgument);
    const never = await rejectionOf(scheduleCron("bad", { cron: "0 0 30 2 *" }));
    expect(never.rawMessage).toMatch(/never matches/);
    const zone = await rejectionOf(scheduleCron("bad", { cron: "0 9 * * *", timezone: "Mars/Olympus" }));
    expect(zone.code).toBe(Code.InvalidArgument);
    expect(zone.rawMessage).toMatch(/unknown time zone "Mars\/Olympus"/);
    const writer = await rejectionOf(scheduleCron("bad", { cron: "0 9 * * *", writer: true }));
    expect(writer.code).toBe(Code.InvalidArgument);
    expect(writer.rawMessage).toMatch(/only workflows/);
    expect((await schedules.list({ actorId: "bad" })).schedules).toHaveLength(0);
    // The writers did not commit either.
    expect((await Probe.ref("bad").get(ctx)).counter).toBe(0n);
  });

  it("from a writer that fails do not exist", async () => {
    const err = await rejectionOf(scheduleCron("aborted", { cron: "*/5 * * * *", fail: true }));
    expect(err.code).toBe(Code.Internal);
    expect((await schedules.list({ actorId: "aborted" })).schedules).toHaveLength(0);
    app.clock.advance("10m");
    await schedulerCaughtUp();
    expect(await tasksOf("aborted")).toHaveLength(0);
  });

  it("cannot be made with spawn()", () => {
    expect(() => Probe.ref("x").spawn({ cron: "* * * * *" }).run(ctx, { scenario: "cronEcho" })).toThrow(/ref\.schedule/);
  });
});
