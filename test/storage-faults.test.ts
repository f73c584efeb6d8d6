// Surviving storage faults (issue 18), through a real application: commits
// fail on demand under the real Store interface (test/fixtures/faulty-store.ts
// wraps the real LmdbStore). While they fail, writers, transactions and
// spawns answer UNAVAILABLE saying why, readers, watches and Tasks.Get
// answer from the last durable state, workflows back off, the log says it
// once per change of state; once the store takes writes again everything
// resumes without a restart. The same on a real full disk: test/e2e/disk-full.test.ts.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Client } from "@connectrpc/connect";
import { Authorizer, Code, ConnectError, StoreUnavailable, allow, atLeastOnce, atMostOnce, hmacTokenVerifier, type ExternalContext } from "@cairn-dev/cairn";
import { TestApplication } from "@cairn-dev/cairn/testing";
import { TaskStatus, type Tasks } from "../generated/cairn/v1/tasks_pb.js";
import { Account } from "../generated/bank/v1/account_cairn.js";
import { Probe } from "../generated/probe/v1/probe_cairn.js";
import { AccountServicerImpl } from "../examples/bank/servicer.js";
import { PROBE_TOKEN_SECRET, ProbeServicerImpl, defineScenario } from "./fixtures/probe-servicer.js";
import type { Account as AccountState } from "../generated/bank/v1/account_pb.js";
import { StoreFaults } from "./fixtures/faulty-store.js";
import { taskInStatus, tasksClient } from "./fixtures/tasks-client.js";
import { eventually, gates, rejectionOf, within } from "./fixtures/waiting.js";
import { recordingLogger } from "./fixtures/recording-logger.js";

const runs = new Map<string, number>();
const sideEffects = new Map<string, number>();
const { gate, open, has } = gates();

// Two durable steps around a write on another actor, gated on its first run
// so a test can make the store fail while the run is in the middle.
defineScenario("fault-steps", async (ctx, req) => {
  const n = (runs.get(ctx.actorId) ?? 0) + 1;
  runs.set(ctx.actorId, n);
  if (n === 1) await gate(ctx.actorId);
  await atLeastOnce("first", ctx, () => "first");
  await Probe.ref(req.target).idempotently("add").add(ctx, { amount: 1n, note: ctx.actorId });
  await atMostOnce("effect", ctx, () => sideEffects.set(ctx.actorId, (sideEffects.get(ctx.actorId) ?? 0) + 1));
  return { result: "done" };
});

/** Storage tests, not authorization tests: every caller may call. */
class OpenAccount extends AccountServicerImpl {
  override authorizer() {
    return new Authorizer<AccountState>({ default: allow() });
  }
}

defineScenario("fault-echo", async (ctx, req) => {
  runs.set(ctx.actorId, (runs.get(ctx.actorId) ?? 0) + 1);
  return { result: `echo ${req.target}` };
});

const faults = new StoreFaults();
let app: TestApplication;
let ctx: ExternalContext;
let tasks: Client<typeof Tasks>;
const log = recordingLogger();

/** What the application logged, one string per record (with any error's stack). */
const logged = () => log.lines();

function expectUnavailable(e: unknown, reason: string): void {
  expect(e).toBeInstanceOf(ConnectError);
  const err = e as ConnectError;
  expect(err.code, err.message).toBe(Code.Unavailable);
  expect(err.rawMessage).toContain("the store refused the write");
  expect(err.rawMessage).toContain(reason);
}

/** Heals the store and waits until the application noticed (its probe). */
async function heal(): Promise<void> {
  faults.heal();
  await eventually(() => app.storeHealth.writable, 10_000, "the store to be writable again");
}

beforeAll(async () => {
  // Backoff far beyond the test's real time: a re-run happens only when the
  // test moves the clock, or when the store takes writes again.
  app = await TestApplication.start({
    servicers: [ProbeServicerImpl, OpenAccount],
    tokenVerifier: hmacTokenVerifier(PROBE_TOKEN_SECRET),
    wrapStore: faults.wrap,
    retry: { initialMs: 60_000, maxMs: 60_000 },
    logger: log.logger,
  });
  ctx = app.context();
  tasks = tasksClient(app.url);
});

afterAll(async () => {
  faults.heal();
  await app?.stop();
});

beforeEach(() => {
  log.clear();
});

afterEach(async () => {
  faults.heal();
  await eventually(() => app.storeHealth.writable, 10_000, "the store to be writable again");
});

describe("while commits fail", () => {
  it("a writer answers UNAVAILABLE saying the disk is full; readers answer the last durable state; nothing half-applied shows", async () => {
    await Probe.ref("w").add(ctx, { amount: 5n, note: "before" });
    faults.fail("ENOSPC");
    expectUnavailable(await rejectionOf(Probe.ref("w").add(ctx, { amount: 1n, note: "refused" })), "disk full");
    // The next writer builds on the durable state, not on the refused draft.
    expectUnavailable(await rejectionOf(Probe.ref("w").add(ctx, { amount: 2n })), "disk full");
    const view = await Probe.ref("w").get(ctx);
    expect(view.counter).toBe(5n);
    expect(view.log).toEqual(["before"]);
    expect(app.storeHealth).toMatchObject({ writable: false, reason: "disk full" });
    expect(app.storeHealth.refusedCommits).toBeGreaterThanOrEqual(2);

    await heal();
    const after = await Probe.ref("w").add(ctx, { amount: 1n, note: "after" });
    expect(after.counter).toBe(6n);
    expect(after.log).toEqual(["before", "after"]);
    // Once per change of state, with counts; never per write, never a stack.
    const lines = logged();
    expect(lines.filter((l) => l.includes("the store refuses writes"))).toHaveLength(1);
    expect(lines.filter((l) => l.includes("the store takes writes again"))).toHaveLength(1);
    expect(lines.find((l) => l.includes("takes writes again"))).toMatch(/\d+ commits? (was|were) refused/);
    expect(lines.some((l) => l.includes("    at "))).toBe(false);
  });

  it.each([
    ["EIO", "I/O error"],
    ["MDB_MAP_FULL", "map full"],
  ] as const)("%s: writers are told %s", async (code, reason) => {
    faults.fail(code);
    const e = await rejectionOf(Probe.ref(`r-${code}`).add(ctx, { amount: 1n }));
    expectUnavailable(e, reason);
    expect(app.storeHealth).toMatchObject({ writable: false, reason });
  });

  it("a transaction answers UNAVAILABLE and changes neither actor", async () => {
    await Account.ref("tx-a").open(ctx, { owner: "a", initial: 100n });
    await Account.ref("tx-b").open(ctx, { owner: "b", initial: 0n });
    faults.fail("ENOSPC");
    expectUnavailable(await rejectionOf(Account.ref("tx-a").transfer(ctx, { to: "tx-b", amount: 30n })), "disk full");
    expect((await Account.ref("tx-a").balance(ctx)).balance).toBe(100n);
    expect((await Account.ref("tx-b").balance(ctx)).balance).toBe(0n);
    await heal();
    await Account.ref("tx-a").transfer(ctx, { to: "tx-b", amount: 30n });
    expect((await Account.ref("tx-a").balance(ctx)).balance).toBe(70n);
    expect((await Account.ref("tx-b").balance(ctx)).balance).toBe(30n);
  });

  it("a spawn answers UNAVAILABLE and leaves no task", async () => {
    faults.fail("ENOSPC");
    const task = Probe.ref("sp").spawn().run(ctx, { scenario: "echo-none", target: "x" });
    expectUnavailable(await rejectionOf(task.started), "disk full");
    expect((await tasks.list({ actorId: "sp" })).tasks).toHaveLength(0);
  });

  it("a reactive watch keeps answering, and shows the next durable write after the store heals", async () => {
    await Probe.ref("watched").add(ctx, { amount: 1n });
    const seen: bigint[] = [];
    const abort = new AbortController();
    const watching = (async () => {
      for await (const v of Probe.ref("watched").reactively(abort.signal).get(ctx)) seen.push(v.counter);
    })().catch(() => {});
    await eventually(() => seen.length === 1);
    faults.fail("EIO");
    expectUnavailable(await rejectionOf(Probe.ref("watched").add(ctx, { amount: 1n })), "I/O error");
    // A fresh watch answers from the last durable state meanwhile.
    for await (const v of Probe.ref("watched").reactively().get(ctx)) {
      expect(v.counter).toBe(1n);
      break;
    }
    await heal();
    await Probe.ref("watched").add(ctx, { amount: 10n });
    await eventually(() => seen.includes(11n));
    expect(seen).toEqual([1n, 11n]);
    abort.abort();
    await watching;
  });
});

describe("workflows while commits fail", () => {
  it("a step that cannot be stored backs off (no immediate re-run), Tasks.Get answers, and it completes once the store heals", async () => {
    const task = Probe.ref("wf").spawn().run(ctx, { scenario: "fault-steps", target: "wf-target" });
    await within(task.started);
    const taskId = task.taskId;
    await eventually(() => has("wf"), 5_000, "the run to reach its gate");
    faults.fail("ENOSPC");
    open("wf");
    // The run ends (its write refused) and is not recorded: Tasks.Get still
    // answers, from the last durable record.
    await taskInStatus(tasks, taskId, TaskStatus.SCHEDULED, "the run to end");
    expect(runs.get("wf")).toBe(1);
    // The retry waits for the backoff (here ≥ 22 s of clock time), not a moment.
    app.clock.advance("2m");
    await eventually(() => runs.get("wf") === 2, 5_000, "the retry after the backoff");
    await taskInStatus(tasks, taskId, TaskStatus.SCHEDULED, "the retry to end");
    expect((await Probe.ref("wf-target").get(ctx)).counter).toBe(0n);

    // Without a restart or a clock move: the task runs again as soon as the store takes writes.
    await heal();
    expect((await within(task)).result).toBe("done");
    expect((await Probe.ref("wf-target").get(ctx)).counter).toBe(1n);
    expect(sideEffects.get("wf")).toBe(1);
    const lines = logged();
    expect(lines.filter((l) => l.includes("the store refuses writes"))).toHaveLength(1);
    expect(lines.some((l) => /was not stored|could not be recorded|history was not stored|progress was not stored/.test(l))).toBe(false);
  });

  it("a timer that comes due while commits fail runs once the store heals, without a clock move", async () => {
    const task = Probe.ref("timer").spawn({ when: new Date(app.clock.now() + 60_000) }).run(ctx, { scenario: "fault-echo", target: "t" });
    await within(task.started);
    faults.fail("EIO");
    app.clock.advance("2m");
    await eventually(() => runs.get("timer") === 1, 5_000, "the timer to fire");
    await taskInStatus(tasks, task.taskId, TaskStatus.SCHEDULED, "the run to end");
    await heal();
    expect((await within(task)).result).toBe("echo t");
    expect(runs.get("timer")).toBe(2);
  });

  it("starts on a failing store: reads are served, recovery waits, and pending tasks run once it heals", async () => {
    await Probe.ref("boot").add(ctx, { amount: 3n });
    const task = Probe.ref("boot-wf").spawn().run(ctx, { scenario: "fault-steps", target: "boot-target" });
    await within(task.started);
    const taskId = task.taskId;
    await eventually(() => has("boot-wf"), 5_000, "the run to reach its gate");
    faults.fail("ENOSPC");
    open("boot-wf");
    await taskInStatus(tasks, taskId, TaskStatus.SCHEDULED, "the run to end");
    await app.restart();
    // Connections to the stopped server are gone: new clients.
    ctx = app.context();
    tasks = tasksClient(app.url);
    expect((await Probe.ref("boot").get(ctx)).counter).toBe(3n);
    expect((await tasks.get({ taskId })).taskId).toBe(taskId);
    await eventually(() => (runs.get("boot-wf") ?? 0) >= 2, 5_000, "recovery to try the task");
    await eventually(() => !app.storeHealth.writable, 5_000, "the refusal to be noticed");
    expect((await Probe.ref("boot").get(ctx)).counter).toBe(3n);
    await heal();
    await taskInStatus(tasks, taskId, TaskStatus.COMPLETED, "the task to complete");
    expect((await Probe.ref("boot-target").get(ctx)).counter).toBe(1n);
  });
});

describe("the error's shape", () => {
  it("StoreUnavailable is exported and is what a caller in process sees", async () => {
    faults.fail("ENOSPC");
    const e = await rejectionOf(Probe.ref("shape").add(ctx, { amount: 1n }));
    // Over the wire it is a ConnectError with the code; in process the class.
    expect(e).toBeInstanceOf(ConnectError);
    expect(new StoreUnavailable("disk full (x)").code).toBe(Code.Unavailable);
  });
});
