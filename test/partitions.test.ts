// Partitions in one process (DESIGN.md §9): a data directory of 8
// partitions, each its own LMDB environment and runtime, keeps every promise
// of one: the bank's semantics, tasks and schedules routed by their marked
// ids and listed in creation order across partitions with working page
// tokens, workflows and reactive readers reaching actors of other
// partitions, cron and sleep across a restart. Transactions across
// partitions commit by two-phase commit: totals conserved under concurrent
// transfers, nested savepoints, replay after a restart, no record left. A
// data directory opened with another partition count is refused.
import { existsSync } from "node:fs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pino } from "pino";
import {
  Application,
  Authorizer,
  ExternalContext,
  allow,
  allowIf,
  hmacTokenVerifier,
  signHmacToken,
  sleep,
  until,
  type Predicate,
  type TransactionContext,
} from "@cairn-dev/cairn";
import { TestApplication } from "@cairn-dev/cairn/testing";
import { partitionOf, partitionOfId } from "../src/api/partition.js";
import { Account, TransferAborted, WithdrawAborted } from "../generated/bank/v1/account_cairn.js";
import { OverdraftErrorSchema, type Account as AccountState, type TransferRequest } from "../generated/bank/v1/account_pb.js";
import { Actors } from "../generated/cairn/v1/actors_pb.js";
import { Admin } from "../generated/cairn/v1/admin_pb.js";
import { Schedules } from "../generated/cairn/v1/schedules_pb.js";
import { TaskStatus, type ListTasksResponse, type Tasks } from "../generated/cairn/v1/tasks_pb.js";
import { Probe } from "../generated/probe/v1/probe_cairn.js";
import { AccountServicerImpl } from "../examples/bank/servicer.js";
import { CronProbe, cronNote } from "./fixtures/cron-probe.js";
import { PROBE_ADMIN_TOKEN, PROBE_TOKEN_SECRET, defineScenario } from "./fixtures/probe-servicer.js";
import { bearerTransport, taskWhen, tasksClient } from "./fixtures/tasks-client.js";
import { eventually, rejectionOf, within } from "./fixtures/waiting.js";
import { forEachLimit } from "./e2e/helpers.js";
import { peekTwoPhase } from "./fixtures/two-phase-peek.js";
import { DelegatingStore } from "../src/store/delegating-store.js";
import type { CommitBatch } from "../src/store/store.js";

const N = 8;
const PROBE = "probe.v1.Probe";
const ACCOUNT = "bank.v1.Account";

/** An actor id of `stateType` on `partition`, starting with `prefix`. */
function idOn(stateType: string, partition: number, prefix: string): string {
  for (let i = 0; ; i++) {
    const id = `${prefix}-${i}`;
    if (partitionOf(stateType, id, N) === partition) return id;
  }
}

/** Outer transfer that calls a failing nested transfer, catches it and carries on. */
const OUTER_NESTED = 999n;
/** Nested transfer: deposits 5 on `to`, withdraws 3 here, then throws TransferAborted. */
const NESTED_FAILS = 998n;
/** Where the nested transfer of OUTER_NESTED sends its (failing) transfer. */
let nestedThird = "";

/** Bank accounts anyone may use, but only the owner may start or see interest accrual: a rule on the actor's state. */
class OpenAccount extends AccountServicerImpl {
  override authorizer() {
    const isOwner: Predicate<AccountState> = ({ context, state }) => state !== undefined && context.claims?.sub === state.owner;
    return new Authorizer<AccountState>({ methods: { accrueInterest: allowIf({ all: [isOwner] }) }, default: allow() });
  }

  override async transfer(ctx: TransactionContext, state: AccountState, req: TransferRequest) {
    if (req.amount === OUTER_NESTED) {
      state.balance -= 1n; // kept
      await Account.ref(req.to).deposit(ctx, { amount: 7n }); // kept
      await rejectionOf(Account.ref(req.to).transfer(ctx, { to: nestedThird, amount: NESTED_FAILS }));
      state.balance -= 10n; // kept
      return {};
    }
    if (req.amount === NESTED_FAILS) {
      await Account.ref(req.to).deposit(ctx, { amount: 5n }); // rolled back
      state.balance -= 3n; // rolled back
      throw new TransferAborted(create(OverdraftErrorSchema, { shortBy: 42n }), "nested transfer fails on purpose");
    }
    return super.transfer(ctx, state, req);
  }
}

// A workflow on one partition reaching an actor of another: a keyed write,
// a read, a child workflow awaited, and a spawned task awaited.
defineScenario("partitionsReach", async (ctx, req) => {
  const target = Probe.ref(req.target);
  await target.idempotently("add").add(ctx, { amount: 5n, note: `from ${ctx.actorId}` });
  const read = await target.get(ctx);
  const child = await target.idempotently("child").run(ctx, { scenario: "partitionsEcho", n: 7n });
  const spawn = Probe.ref(req.target).unidempotently().spawn().run(ctx, { scenario: "partitionsEcho", n: 11n });
  const spawned = await spawn;
  return { result: `${child.result}/${spawned.result}/${spawn.taskId}`, value: read.counter };
});
defineScenario("partitionsEcho", async (ctx, req) => ({ result: `echo ${req.n} on ${ctx.actorId}`, value: req.n }));

// Waits on another partition's actor: woken by its commits there.
defineScenario("partitionsUntil", async (ctx, req) => {
  const counter = await until("other", ctx, async () => {
    const view = await Probe.ref(req.target).get(ctx);
    return view.flag && view.counter;
  });
  return { result: "other changed", value: counter };
});

defineScenario("partitionsSleep", async (ctx) => {
  await sleep("nap", ctx, "1h");
  return { result: "woke" };
});

/** While set, every partition's store refuses participants' applies (new states with a prepared record's removal). */
const applies = { refuse: false, refused: 0 };
/** With an error the store's health does not count: every other write goes through meanwhile. */
class ApplyRefusingStore extends DelegatingStore {
  override async commit(batch: CommitBatch, options?: { visibleOnly?: boolean }): Promise<void> {
    if (applies.refuse && batch.states.length > 0 && (batch.unprepared?.length ?? 0) > 0) {
      applies.refused++;
      throw new Error("injected: this apply is refused");
    }
    return this.inner.commit(batch, options);
  }
}

describe("8 partitions in one process", () => {
  let app: TestApplication;
  let ctx: ExternalContext;
  let tasks: Client<typeof Tasks>;
  let schedules: Client<typeof Schedules>;
  let actors: Client<typeof Actors>;

  beforeAll(async () => {
    app = await TestApplication.start({
      servicers: [OpenAccount, CronProbe],
      partitions: N,
      retry: { initialMs: 20, maxMs: 200 },
      tokenVerifier: hmacTokenVerifier(PROBE_TOKEN_SECRET),
      wrapStore: (store) => new ApplyRefusingStore(store),
    });
    connect();
  });
  afterAll(() => app?.stop());

  function connect(): void {
    ctx = app.context();
    tasks = tasksClient(app.url);
    schedules = createClient(Schedules, bearerTransport(app.url, PROBE_ADMIN_TOKEN));
    actors = createClient(Actors, bearerTransport(app.url, PROBE_ADMIN_TOKEN));
  }

  async function restart(): Promise<void> {
    await app.restart();
    connect();
  }

  it("lays the data directory out as one LMDB environment per partition", () => {
    for (let p = 0; p < N; p++) expect(existsSync(join(app.dataDir, "partitions", `p000${p}`, "data.mdb"))).toBe(true);
    expect(existsSync(join(app.dataDir, "data.mdb"))).toBe(false);
  });

  it("keeps the bank's semantics: exact totals under concurrent transfers on one partition, replay, typed errors", async () => {
    const ids = Array.from({ length: 4 }, (_, i) => idOn(ACCOUNT, 3, `bank${i}`));
    for (const id of ids) await Account.create(ctx, id, { owner: id, initial: 1000n });
    const transfers = Array.from({ length: 80 }, (_, i) => ({ from: ids[i % 4]!, to: ids[(i + 1 + (i % 3)) % 4]!, amount: BigInt(1 + (i % 7)) }));
    await forEachLimit(transfers, 16, async (t) => {
      await Account.ref(t.from).transfer(ctx, { to: t.to, amount: t.amount });
    });
    let total = 0n;
    for (const id of ids) total += (await Account.ref(id).balance(ctx)).balance;
    expect(total).toBe(4000n);

    // An idempotent retry replays the first answer, also after a restart.
    const once = Account.ref(ids[0]!).idempotently({ key: "partitions-deposit" });
    const first = await once.deposit(ctx, { amount: 10n });
    expect((await once.deposit(ctx, { amount: 10n })).balance).toBe(first.balance);
    await restart();
    expect((await Account.ref(ids[0]!).idempotently({ key: "partitions-deposit" }).deposit(ctx, { amount: 10n })).balance).toBe(first.balance);
    expect((await Account.ref(ids[0]!).balance(ctx)).balance).toBe(first.balance);

    const overdraft = await rejectionOf(Account.ref(ids[1]!).withdraw(ctx, { amount: 1_000_000n }));
    expect(overdraft).toBeInstanceOf(WithdrawAborted);
    expect((overdraft as WithdrawAborted).error).toEqual(create(OverdraftErrorSchema, { shortBy: 1_000_000n - (await Account.ref(ids[1]!).balance(ctx)).balance }));
    expect(ConnectError.from(await rejectionOf(Account.ref(idOn(ACCOUNT, 5, "ghost")).balance(ctx))).code).toBe(Code.NotFound);
    expect(ConnectError.from(await rejectionOf(Account.create(ctx, ids[2]!, { owner: "x", initial: 1n }))).code).toBe(Code.AlreadyExists);
  });

  it("serves actors of every partition, and Actors.Get reads each from its own", async () => {
    const ids = Array.from({ length: N }, (_, p) => idOn(ACCOUNT, p, "spread"));
    for (const [p, id] of ids.entries()) await Account.create(ctx, id, { owner: id, initial: BigInt(p) });
    for (const [p, id] of ids.entries()) {
      const got = await actors.get({ stateType: ACCOUNT, actorId: id });
      expect(JSON.parse(got.stateJson).balance).toBe(String(p));
    }
  });

  it("authorizes reading a task by its actor's state on that actor's partition", async () => {
    const id = idOn(ACCOUNT, 5, "owned");
    await Account.create(ctx, id, { owner: "olga", initial: 100n });
    const olga = app.context({ bearerToken: signHmacToken({ sub: "olga" }, PROBE_TOKEN_SECRET) });
    const task = Account.ref(id).spawn().accrueInterest(olga, { rateBps: 100n, periods: 1, periodMs: 1n, ledgerUrl: "http://127.0.0.1:1/" });
    await task.started;
    const asOlga = tasksClient(app.url, signHmacToken({ sub: "olga" }, PROBE_TOKEN_SECRET));
    expect((await asOlga.get({ taskId: task.taskId })).taskId).toBe(task.taskId);
    const asOther = tasksClient(app.url, signHmacToken({ sub: "mallory" }, PROBE_TOKEN_SECRET));
    expect(ConnectError.from(await rejectionOf(asOther.get({ taskId: task.taskId }))).code).toBe(Code.PermissionDenied);
    await tasks.cancel({ taskId: task.taskId });
  });

  it("backs up every partition into a directory that opens as the same partitions", async () => {
    const id = idOn(ACCOUNT, 6, "backed");
    await Account.create(ctx, id, { owner: id, initial: 42n });
    const destination = mkdtempSync(join(tmpdir(), "cairn-partitions-backup-"));
    rmSync(destination, { recursive: true });
    try {
      await createClient(Admin, bearerTransport(app.url, PROBE_ADMIN_TOKEN)).backup({ destination });
      const restored = await new Application({ servicers: [OpenAccount], dataDir: destination, partitions: N, port: 0, logger: quiet, insecureDevelopmentMode: true }).start();
      const c = new ExternalContext({ url: restored.url });
      try {
        expect((await Account.ref(id).balance(c)).balance).toBe(42n);
      } finally {
        c.close();
        await restored.stop();
      }
    } finally {
      rmSync(destination, { recursive: true, force: true });
    }
  });

  const balanceOf = async (id: string) => (await Account.ref(id).balance(ctx)).balance;

  it("commits transfers across partitions by two-phase commit: 64 in flight conserve the total, each account matches the acknowledged transfers", async () => {
    const ids = Array.from({ length: 16 }, (_, i) => idOn(ACCOUNT, i % N, `x${i}`));
    for (const id of ids) await Account.create(ctx, id, { owner: id, initial: 100n });
    let seed = 16;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const transfers = Array.from({ length: 400 }, () => {
      const from = Math.floor(random() * ids.length);
      const to = (from + 1 + Math.floor(random() * (ids.length - 1))) % ids.length;
      return { from: ids[from]!, to: ids[to]!, amount: BigInt(1 + Math.floor(random() * 60)) };
    });
    const expected = new Map(ids.map((id) => [id, 100n]));
    let overdrafts = 0;
    await forEachLimit(transfers, 64, async (t) => {
      try {
        await Account.ref(t.from).transfer(ctx, { to: t.to, amount: t.amount });
      } catch (e) {
        if (!(e instanceof TransferAborted)) throw e; // the one declared error
        overdrafts++;
        return;
      }
      expected.set(t.from, expected.get(t.from)! - t.amount);
      expected.set(t.to, expected.get(t.to)! + t.amount);
    });
    const actual = new Map(await Promise.all(ids.map(async (id) => [id, await balanceOf(id)] as const)));
    expect(actual).toEqual(expected);
    expect([...actual.values()].reduce((a, b) => a + b, 0n)).toBe(1600n);
    expect(overdrafts).toBeLessThan(transfers.length);
    // Applied everywhere: no prepared record; decisions forgotten once every participant applied.
    await eventually(async () => JSON.stringify(await peekTwoPhase(app.dataDir)) === JSON.stringify({ prepared: 0, decisions: 0 }), 30_000, "two-phase records gone");
  });

  it("a committed transfer whose apply on the other partition fails lands once the store takes it; a writer meanwhile builds on it, never on the version before", async () => {
    const from = idOn(ACCOUNT, 2, "apply-from");
    const to = idOn(ACCOUNT, 6, "apply-to");
    await Account.create(ctx, from, { owner: from, initial: 100n });
    await Account.create(ctx, to, { owner: to, initial: 0n });
    applies.refuse = true;
    try {
      // The reply comes at the durable decision, and a reader reads the committed transfer before it is applied.
      await Account.ref(from).transfer(ctx, { to, amount: 30n });
      expect(await balanceOf(to)).toBe(30n);
      await eventually(async () => applies.refused >= 2, 30_000, "the apply refused, and tried again");
      // The lock went with the apply's first try: a deposit builds on 30 (not on 0), so the store refuses
      // it while the apply has not landed (its base version is not there yet).
      const early = await rejectionOf(Account.ref(to).deposit(ctx, { amount: 5n }));
      expect(ConnectError.from(early).code).toBe(Code.Unavailable);
    } finally {
      applies.refuse = false;
    }
    await eventually(async () => (await peekTwoPhase(app.dataDir)).prepared === 0, 30_000, "the apply landed");
    await Account.ref(to).deposit(ctx, { amount: 5n });
    expect([await balanceOf(from), await balanceOf(to)]).toEqual([70n, 35n]);
  });

  it("a nested transfer's declared error undoes only its own changes on every partition; the outer commits the rest", async () => {
    const [a, b, c] = [idOn(ACCOUNT, 1, "nest-a"), idOn(ACCOUNT, 4, "nest-b"), idOn(ACCOUNT, 7, "nest-c")];
    for (const id of [a, b, c]) await Account.create(ctx, id, { owner: id, initial: 100n });
    nestedThird = c;
    await Account.ref(a).transfer(ctx, { to: b, amount: OUTER_NESTED });
    // a: -1 and -10; b: +7, the nested -3 undone; c: the nested +5 undone.
    expect({ a: await balanceOf(a), b: await balanceOf(b), c: await balanceOf(c) }).toEqual({ a: 89n, b: 107n, c: 100n });
  });

  it("replays a cross-partition transfer's first outcome for its key after a restart, and applies it once", async () => {
    const from = idOn(ACCOUNT, 2, "replay-from");
    const to = idOn(ACCOUNT, 5, "replay-to");
    await Account.create(ctx, from, { owner: from, initial: 100n });
    await Account.create(ctx, to, { owner: to, initial: 0n });
    await Account.ref(from).idempotently({ key: "xp-transfer" }).transfer(ctx, { to, amount: 30n });
    const short = await rejectionOf(Account.ref(from).idempotently({ key: "xp-overdraft" }).transfer(ctx, { to, amount: 500n }));
    expect(short).toBeInstanceOf(TransferAborted);
    await restart();
    await Account.ref(from).idempotently({ key: "xp-transfer" }).transfer(ctx, { to, amount: 30n });
    await Account.ref(to).deposit(ctx, { amount: 400n }).then(() => Account.ref(to).transfer(ctx, { to: from, amount: 400n }));
    // Now the overdraft would succeed, but its key replays the first outcome.
    const replayed = await rejectionOf(Account.ref(from).idempotently({ key: "xp-overdraft" }).transfer(ctx, { to, amount: 500n }));
    expect((replayed as TransferAborted).error.shortBy).toBe(430n);
    expect([await balanceOf(from), await balanceOf(to)]).toEqual([470n, 30n]);
  });

  it("marks the task ids it makes with their partition and lists tasks in creation order across partitions, page by page", async () => {
    const made: string[] = [];
    for (let i = 0; i < 12; i++) {
      const id = `list-${i}`;
      // Scheduled by a writer: the server makes the id, on the writer's partition.
      const { taskId } = await Probe.ref(id).scheduleRun(ctx, { run: { scenario: "partitionsEcho", n: BigInt(i) }, delayMs: 0n });
      expect(partitionOfId(taskId)).toBe(partitionOf(PROBE, id, N));
      made.push(taskId);
      // Spawned by a client: the client chose the id (unmarked), looked up on every partition.
      const task = Probe.ref(id).spawn().run(ctx, { scenario: "partitionsEcho", n: BigInt(i) });
      await task.started;
      expect(partitionOfId(task.taskId)).toBeUndefined();
      made.push(task.taskId);
    }
    for (const id of made) expect((await tasks.wait({ taskId: id })).status).toBe(TaskStatus.COMPLETED);
    const listed: string[] = [];
    let pageToken = "";
    for (let page = 0; page < 40 && (page === 0 || pageToken !== ""); page++) {
      const res = await tasks.list({ limit: 5, pageToken, stateType: PROBE });
      listed.push(...res.tasks.map((t) => t.taskId));
      pageToken = res.nextPageToken;
    }
    const ours = listed.filter((id) => made.includes(id));
    expect(new Set(listed).size).toBe(listed.length);
    expect([...ours].sort()).toEqual([...made].sort());
    // Creation order: ids without their mark start with their creation time.
    const times = listed.map((id) => id.replace(/^p\d+_/, "").slice(0, 10));
    expect(times).toEqual([...times].sort());
    expect(listed).toEqual((await tasks.list({ stateType: PROBE })).tasks.map((t) => t.taskId));
  });

  it("pages Tasks.List newest first with a method filter over every partition, both ways alike", async () => {
    const runs: string[] = [];
    const adds: string[] = [];
    for (let p = 0; p < N; p++) {
      const id = idOn(PROBE, p, "newest");
      // A server-made id (marked), a client-chosen one (unmarked), and a task of another method.
      runs.push((await Probe.ref(id).scheduleRun(ctx, { run: { scenario: "partitionsEcho", n: BigInt(p) }, delayMs: 0n })).taskId);
      const run = Probe.ref(id).spawn().run(ctx, { scenario: "partitionsEcho", n: BigInt(p) });
      await run.started;
      runs.push(run.taskId);
      const add = Probe.ref(id).spawn().add(ctx, { amount: 1n });
      await add.started;
      adds.push(add.taskId);
    }
    for (const id of [...runs, ...adds]) await tasks.wait({ taskId: id });
    const listAll = async (newestFirst: boolean) => {
      const listed: string[] = [];
      let pageToken = "";
      for (let page = 0; page < 200 && (page === 0 || pageToken !== ""); page++) {
        const res = await tasks.list({ stateType: PROBE, method: "Run", newestFirst, limit: 3, pageToken });
        expect(res.tasks.length).toBeLessThanOrEqual(3);
        for (const t of res.tasks) expect(t.method).toBe("run");
        listed.push(...res.tasks.map((t) => t.taskId));
        pageToken = res.nextPageToken;
      }
      expect(pageToken).toBe("");
      return listed;
    };
    const newest = await listAll(true);
    expect(new Set(newest).size).toBe(newest.length);
    expect(newest.filter((id) => runs.includes(id)).sort()).toEqual([...runs].sort());
    expect(newest.some((id) => adds.includes(id))).toBe(false);
    // Newest first: creation times (ids without their mark) descend across partitions.
    const times = newest.map((id) => id.replace(/^p\d+_/, ""));
    expect(times).toEqual([...times].sort().reverse());
    expect(newest).toEqual([...(await listAll(false))].reverse());
    expect(newest).toEqual((await tasks.list({ stateType: PROBE, method: "run", newestFirst: true })).tasks.map((t) => t.taskId));
  });

  it("lists actors of every partition with Actors.List, page by page; Actors.Watch and Tasks.WatchList see other partitions", async () => {
    const ids = Array.from({ length: N }, (_, p) => idOn(PROBE, p, "listed"));
    for (const id of ids) await Probe.ref(id).add(ctx, { amount: 1n });
    const listed: string[] = [];
    let pageToken = "";
    for (let page = 0; page < 20 && (page === 0 || pageToken !== ""); page++) {
      const res = await actors.list({ stateType: PROBE, idPrefix: "listed-", limit: 3, pageToken });
      expect(res.actorIds.length).toBeLessThanOrEqual(3);
      listed.push(...res.actorIds);
      pageToken = res.nextPageToken;
    }
    expect(pageToken).toBe("");
    expect(listed).toEqual([...ids].sort());
    // By substring (anywhere in the id), merged the same way: every partition's, in order, each once.
    const found: string[] = [];
    pageToken = "";
    for (let page = 0; page < 20 && (page === 0 || pageToken !== ""); page++) {
      const res = await actors.list({ stateType: PROBE, idContains: "isted-", limit: 2, pageToken });
      found.push(...res.actorIds);
      pageToken = res.nextPageToken;
    }
    expect(found).toEqual([...ids].sort());

    const ac = new AbortController();
    try {
      const target = idOn(PROBE, 5, "watched");
      const watch = actors.watch({ stateType: PROBE, actorId: target }, { signal: ac.signal })[Symbol.asyncIterator]();
      expect((await within(watch.next())).value!.version).toBe(0n);
      const list = tasks.watchList({ actorId: target, method: "add" }, { signal: ac.signal })[Symbol.asyncIterator]();
      expect((await within(list.next())).value!.tasks).toHaveLength(0);
      const add = Probe.ref(target).spawn().add(ctx, { amount: 4n });
      await add;
      expect(JSON.parse((await within(watch.next())).value!.stateJson)).toMatchObject({ counter: "4" });
      expect(((await within(list.next())).value as ListTasksResponse).tasks.map((t) => t.taskId)).toEqual([add.taskId]);
    } finally {
      ac.abort();
    }
  });

  it("runs a workflow on one partition that writes, reads, calls and spawns on an actor of another", async () => {
    const home = idOn(PROBE, 2, "reach-home");
    const target = idOn(PROBE, 7, "reach-target");
    const task = Probe.ref(home).spawn().run(ctx, { scenario: "partitionsReach", target });
    const result = await task;
    const [child, spawned, spawnedId] = result.result.split("/");
    expect([child, spawned]).toEqual([`echo 7 on ${target}`, `echo 11 on ${target}`]);
    // A fresh id the workflow made is marked with the partition the task lives on: its target's.
    expect(partitionOfId(spawnedId!)).toBe(7);
    expect((await tasks.get({ taskId: spawnedId! })).status).toBe(TaskStatus.COMPLETED);
    expect(result.value).toBe(5n);
    expect((await Probe.ref(target).get(ctx)).log).toEqual([`from ${home}`]);
  });

  it("wakes an until reading an actor of another partition when that actor commits", async () => {
    const home = idOn(PROBE, 0, "until-home");
    const target = idOn(PROBE, 4, "until-target");
    const task = Probe.ref(home).spawn().run(ctx, { scenario: "partitionsUntil", target });
    await task.started;
    await taskWhen(tasks, task.taskId, (t) => t.status === TaskStatus.SCHEDULED || t.status === TaskStatus.RUNNING, "waiting");
    await Probe.ref(target).add(ctx, { amount: 3n });
    await Probe.ref(target).setFlag(ctx, { flag: true });
    expect((await task).value).toBe(3n);
  });

  it("streams a reactive reader over actors of two partitions, woken by commits on each", async () => {
    const a = idOn(PROBE, 1, "watch-a");
    const b = idOn(PROBE, 5, "watch-b");
    const seen: bigint[] = [];
    const stream = Probe.ref(a).reactively().getWith(ctx, { other: b });
    for await (const view of stream) {
      seen.push(view.counter);
      if (seen.length === 1) await Probe.ref(a).add(ctx, { amount: 1n });
      else if (seen.length === 2) await Probe.ref(b).add(ctx, { amount: 10n });
      else break;
    }
    expect(seen).toEqual([0n, 1n, 11n]);
  });

  it("fires cron schedules and wakes sleeps on their partitions across a restart", async () => {
    const cronActor = idOn(PROBE, 6, "cron");
    const sleeper = idOn(PROBE, 3, "sleeper");
    const scheduleId = (await Probe.ref(cronActor).unidempotently().add(ctx, { note: cronNote({ cron: "*/5 * * * *" }) })).log[0]!;
    expect(partitionOfId(scheduleId)).toBe(6);
    const nap = Probe.ref(sleeper).spawn().run(ctx, { scenario: "partitionsSleep" });
    await nap.started;
    await taskWhen(tasks, nap.taskId, (t) => t.history.some((e) => e.kind === "suspended"), "asleep");
    await restart();
    const listed = (await schedules.list({})).schedules.map((s) => s.scheduleId);
    expect(listed).toContain(scheduleId);
    app.clock.advance("2h");
    expect((await tasks.wait({ taskId: nap.taskId })).status).toBe(TaskStatus.COMPLETED);
    await eventually(async () => (await tasks.list({ actorId: cronActor })).tasks.length > 0, 20_000, "a cron run");
    const run = (await tasks.list({ actorId: cronActor })).tasks[0]!;
    expect(partitionOfId(run.taskId)).toBe(6);
    await schedules.delete({ scheduleId });
    expect((await schedules.list({})).schedules.map((s) => s.scheduleId)).not.toContain(scheduleId);
  });

  it("lists schedules of every partition in one order, page by page", async () => {
    const ids: string[] = [];
    for (let p = 0; p < 4; p++) {
      const actor = idOn(PROBE, p, "sched");
      ids.push((await Probe.ref(actor).unidempotently().add(ctx, { note: cronNote({ cron: "0 0 1 1 *" }) })).log[0]!);
    }
    const paged: string[] = [];
    let pageToken = "";
    for (let page = 0; page < 10; page++) {
      const res = await schedules.list({ limit: 3, pageToken });
      paged.push(...res.schedules.map((s) => s.scheduleId));
      if (res.nextPageToken === "") break;
      pageToken = res.nextPageToken;
    }
    expect(paged).toEqual((await schedules.list({})).schedules.map((s) => s.scheduleId));
    for (const id of ids) expect(paged).toContain(id);
    for (const id of ids) await schedules.delete({ scheduleId: id });
  });
});

describe("the partition count of a data directory", () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  const fresh = () => {
    const dir = mkdtempSync(join(tmpdir(), "cairn-partitions-"));
    dirs.push(dir);
    return dir;
  };
  const app = (dataDir: string, partitions: number) =>
    new Application({ servicers: [OpenAccount], dataDir, partitions, port: 0, logger: quiet, insecureDevelopmentMode: true });

  it("is fixed when it is created: another count is refused at start, naming both", async () => {
    const dir = fresh();
    const eight = await app(dir, 8).start();
    await eight.stop();
    await expect(app(dir, 4).start()).rejects.toThrow(/created with 8 partitions and is opened with 4/);
    await expect(app(dir, 1).start()).rejects.toThrow(/created with 8 partitions and is opened with 1/);
    const again = await app(dir, 8).start();
    await again.stop();
  });

  it("refuses a single-partition directory opened with several, and takes CAIRN_PARTITIONS", async () => {
    const dir = fresh();
    const one = await app(dir, 1).start();
    await one.stop();
    expect(existsSync(join(dir, "data.mdb"))).toBe(true);
    await expect(app(dir, 4).start()).rejects.toThrow(/created with 1 partition and is opened with 4/);
    const before = process.env.CAIRN_PARTITIONS;
    process.env.CAIRN_PARTITIONS = "2";
    try {
      const other = fresh();
      const two = await new Application({ servicers: [OpenAccount], dataDir: other, port: 0, logger: quiet, insecureDevelopmentMode: true }).start();
      expect(two.partitions).toBe(2);
      await two.stop();
      process.env.CAIRN_PARTITIONS = "zero";
      await expect(new Application({ servicers: [OpenAccount], dataDir: fresh(), port: 0, logger: quiet }).start()).rejects.toThrow(/CAIRN_PARTITIONS="zero"/);
    } finally {
      if (before === undefined) delete process.env.CAIRN_PARTITIONS;
      else process.env.CAIRN_PARTITIONS = before;
    }
  });

  it("answers calls for a partition this process does not host with UNAVAILABLE", async () => {
    const dir = fresh();
    const some = await new Application({ servicers: [OpenAccount], dataDir: dir, partitions: 4, hostedPartitions: [0, 1], port: 0, logger: quiet, insecureDevelopmentMode: true }).start();
    const c = new ExternalContext({ url: some.url });
    try {
      const here = idOn4(ACCOUNT, 1, "hosted");
      const away = idOn4(ACCOUNT, 3, "away");
      await Account.create(c, here, { owner: here, initial: 1n });
      const err = ConnectError.from(await rejectionOf(Account.create(c, away, { owner: away, initial: 1n })));
      expect(err.code).toBe(Code.Unavailable);
      expect(err.rawMessage).toMatch(/partition 3 is not hosted/);
    } finally {
      c.close();
      await some.stop();
    }
  });
});

function idOn4(stateType: string, partition: number, prefix: string): string {
  for (let i = 0; ; i++) {
    const id = `${prefix}-${i}`;
    if (partitionOf(stateType, id, 4) === partition) return id;
  }
}

const quiet = pino({ level: "silent" });
