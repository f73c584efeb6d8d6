// Four nodes × eight partitions (issue 15's tests; DESIGN.md §9), started
// as a StatefulSet starts its pods (test/e2e/pods.ts), each on its own
// volume, on 127.0.0.1: each node owns partitions p with p mod 4 = its
// index, and every call may enter by any node. The bank's semantics through
// every node, a workflow that touches actors on all four nodes, a reactive
// reader over actors on two nodes, and cron and a durable sleep across a
// SIGKILL and restart of the node that owns them.
//
// The pods' clock runs 12 times faster than real time (a cron minute is 5 s;
// test/fixtures/scaled-clock.ts): the same function of real time in every
// pod, so a restarted pod goes on at the same time. Two nodes, one
// partition each, and the supervisor: nodes.test.ts.
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { signHmacToken, type ExternalContext } from "@cairn-dev/cairn";
import { Account, TransferAborted, WithdrawAborted } from "../../generated/bank/v1/account_cairn.js";
import { Probe } from "../../generated/probe/v1/probe_cairn.js";
import { Schedules } from "../../generated/cairn/v1/schedules_pb.js";
import { TaskStatus } from "../../generated/cairn/v1/tasks_pb.js";
import { BANK_TOKEN_SECRET } from "../../examples/bank/servicer.js";
import { cronNote } from "../fixtures/cron-probe.js";
import { ScaledClock, scaledClockEnv } from "../fixtures/scaled-clock.js";
import { bearerTransport, suspendedUntil, taskInStatus, tasksClient } from "../fixtures/tasks-client.js";
import { waitFor } from "../fixtures/waiting.js";
import { forEachLimit, ServerProcesses, within } from "./helpers.js";
import { PodCluster } from "./pods.js";

// Server processes with both cores busy: deadlines bound hangs, they never decide a passing test.
vi.setConfig({ testTimeout: 300_000, hookTimeout: 240_000 });

const NODES = 4;
const PARTITIONS = 8;
const ACCOUNT = "bank.v1.Account";
const PROBE = "probe.v1.Probe";
const NODES_SERVER = fileURLToPath(new URL("../fixtures/nodes-server.ts", import.meta.url));
const OWNER = signHmacToken({ sub: "ann" }, BANK_TOKEN_SECRET);
const ADMIN = signHmacToken({ sub: "ops", cairn_admin: true }, BANK_TOKEN_SECRET);
const CALL_TIMEOUT_MS = 60_000;
const MINUTE = 60_000;
const clock = new ScaledClock(Date.now(), 12);

const codeOf = (p: Promise<unknown>) => p.then((): Code | "ok" => "ok", (e: unknown) => ConnectError.from(e).code);
/** A transfer's outcome: the only declared error is an overdraft. */
const transferOutcome = (p: Promise<unknown>) =>
  p.then(
    (): Code | "ok" | "overdraft" => "ok",
    (e: unknown) => (e instanceof TransferAborted && e.error.shortBy > 0n ? "overdraft" : ConnectError.from(e).code),
  );

describe("four nodes × eight partitions, started as StatefulSet pods", () => {
  const processes = new ServerProcesses();
  let cluster: PodCluster;
  /** A client entering by each node, by index; replaced when its node restarts. */
  const ctx: ExternalContext[] = [];
  const connect = (i: number) => (ctx[i] = processes.connect(cluster.pods[i]!.url, { timeoutMs: CALL_TIMEOUT_MS, bearerToken: OWNER }));
  const ownerOf = (id: string, stateType = ACCOUNT) => cluster.ownerOf(stateType, id);
  const idsOnEachNode = (prefix: string, count: number, stateType = ACCOUNT) => cluster.idsOnEachNode(prefix, count, stateType);
  /** A node that owns neither id. */
  const neither = (...ids: Array<[string, string]>) => [0, 1, 2, 3].find((n) => ids.every(([id, type]) => ownerOf(id, type) !== n))!;

  beforeAll(async () => {
    cluster = await PodCluster.start(processes, {
      nodes: NODES,
      partitions: PARTITIONS,
      script: NODES_SERVER,
      secret: "four-nodes-secret-0123456789",
      env: { CAIRN_TEST_CLOCK: scaledClockEnv(clock) },
    });
    for (let i = 0; i < NODES; i++) connect(i);
  });
  afterAll(() => processes.close());

  it("keeps the bank's semantics through every node: ALREADY_EXISTS, NOT_FOUND, typed errors, exact totals under 32 transfers in flight, readers never blocked", async () => {
    const accounts = idsOnEachNode("four-acct", 3).flat();
    const INITIAL = 100n;
    // Opened through a node that does not own them; then ALREADY_EXISTS and NOT_FOUND through every node.
    for (const id of accounts) await Account.create(ctx[(ownerOf(id) + 1) % NODES]!, id, { owner: "ann", initial: INITIAL });
    for (const c of ctx) {
      for (const id of accounts) expect(await codeOf(Account.ref(id).open(c, { owner: "bob" }))).toBe(Code.AlreadyExists);
      expect(await codeOf(Account.ref("four-ghost").balance(c))).toBe(Code.NotFound);
      expect(await codeOf(Account.ref("four-ghost").deposit(c, { amount: 1n }))).toBe(Code.NotFound);
    }
    // Typed errors raised on the owner reach the caller through any node; the caller's token travels too.
    for (const id of accounts) {
      for (const c of ctx) {
        const err = await Account.ref(id).withdraw(c, { amount: 1_000n }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(WithdrawAborted);
        expect((err as WithdrawAborted).error.shortBy).toBe(900n);
      }
    }
    const anonymous = processes.connect(cluster.pods[0]!.url, { timeoutMs: CALL_TIMEOUT_MS });
    expect(await codeOf(Account.ref(accounts.find((id) => ownerOf(id) === 3)!).withdraw(anonymous, { amount: 1n }))).toBe(Code.Unauthenticated);

    // A fixed pseudo-random sequence: failures reproduce.
    let seed = 4;
    const random = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const transfers = Array.from({ length: 160 }, () => {
      const from = accounts[random(accounts.length)]!;
      let to = accounts[random(accounts.length)]!;
      while (to === from) to = accounts[random(accounts.length)]!;
      return { from, to, amount: BigInt(1 + random(60)), via: random(NODES) };
    });
    const expected = new Map(accounts.map((id) => [id, INITIAL]));
    let acknowledged = 0;
    let across = 0;
    let done = false;
    // Readers while the transfers run, through every node: each answers (a reader waits for no writer's lock).
    let reads = 0;
    const reader = async (r: number) => {
      for (let n = 0; !done && n < 10_000; n++) {
        const id = accounts[(r * 7 + n) % accounts.length]!;
        const { balance } = await within(CALL_TIMEOUT_MS, `a read of ${id}`, Account.ref(id).balance(ctx[(r + n) % NODES]!));
        expect(balance).toBeGreaterThanOrEqual(0n);
        reads++;
      }
    };
    const readers = Promise.all([0, 1, 2, 3].map(reader));
    try {
      await forEachLimit(transfers, 32, async (t) => {
        const code = await transferOutcome(within(CALL_TIMEOUT_MS * 2, `transfer ${t.from} -> ${t.to}`, Account.ref(t.from).transfer(ctx[t.via]!, { to: t.to, amount: t.amount })));
        expect(code === "ok" || code === "overdraft", `transfer ${t.from} -> ${t.to}: ${code}`).toBe(true);
        if (code !== "ok") return;
        acknowledged++;
        if (ownerOf(t.from) !== ownerOf(t.to)) across++;
        expected.set(t.from, expected.get(t.from)! - t.amount);
        expected.set(t.to, expected.get(t.to)! + t.amount);
      });
    } finally {
      done = true;
      await readers;
    }
    expect(acknowledged).toBeGreaterThan(0);
    expect(across).toBeGreaterThan(0);
    expect(reads).toBeGreaterThan(0);
    for (const c of ctx) {
      const balances = new Map<string, bigint>();
      for (const id of accounts) balances.set(id, (await Account.ref(id).balance(c)).balance);
      expect(Object.fromEntries(balances)).toEqual(Object.fromEntries(expected));
      expect([...balances.values()].reduce((a, b) => a + b, 0n)).toBe(INITIAL * BigInt(accounts.length));
    }
  });

  it("replays an idempotent transfer with its first outcome through every node", async () => {
    const [[from], , [to]] = idsOnEachNode("four-idem", 1);
    for (const id of [from!, to!]) await Account.create(ctx[1]!, id, { owner: "ann", initial: 100n });
    const send = (via: number, amount: bigint, key: string) => Account.ref(from!).idempotently({ key }).transfer(ctx[via]!, { to: to!, amount });
    for (let via = 0; via < NODES; via++) expect(await transferOutcome(send(via, 30n, "four-xfer-1"))).toBe("ok");
    // A declined one replays declined through every node, even once the balance would cover it.
    expect(await transferOutcome(send(3, 500n, "four-xfer-2"))).toBe("overdraft");
    await Account.ref(from!).deposit(ctx[2]!, { amount: 1_000n });
    for (let via = 0; via < NODES; via++) expect(await transferOutcome(send(via, 500n, "four-xfer-2"))).toBe("overdraft");
    // The same key for another request is refused wherever it enters.
    for (let via = 0; via < NODES; via++) expect(await codeOf(send(via, 31n, "four-xfer-1"))).toBe(Code.FailedPrecondition);
    for (const c of ctx) expect([(await Account.ref(from!).balance(c)).balance, (await Account.ref(to!).balance(c)).balance]).toEqual([1_070n, 130n]);
  });

  it("runs workflows homed on each node that write and read actors on all four nodes, once under a retry", async () => {
    const homes = idsOnEachNode("four-home", 1, PROBE).flat();
    const targets = homes.map((home) => idsOnEachNode(`four-target-${home}`, 1, PROBE).flat());
    // Each spawned through the node after its home's, so the spawn is forwarded too.
    const runs = homes.map((home, h) => Probe.ref(home).spawn().run(ctx[(h + 1) % NODES]!, { scenario: "remoteAddAll", target: targets[h]!.join("|"), n: 5n }));
    const results = await within(CALL_TIMEOUT_MS * 2, "the four workflows", Promise.all(runs.map(async (r) => await r)));
    // Every target got its 5 once, though each run failed once after its adds and ran again.
    for (const result of results) expect(result).toMatchObject({ result: "added to all", value: 20n });
    for (const [h, home] of homes.entries()) {
      for (const target of targets[h]!) {
        for (const c of ctx) expect(await Probe.ref(target).get(c)).toMatchObject({ counter: 5n, log: [`from ${home}`] });
      }
    }
    const tasks = tasksClient(cluster.pods[2]!.url, ADMIN);
    for (const r of runs) expect((await tasks.get({ taskId: r.taskId })).attempts).toBeGreaterThanOrEqual(1);
  });

  it("updates a reactive reader, entered by a third node, over actors on two other nodes", async () => {
    const byNode = idsOnEachNode("four-watch", 1, PROBE);
    const [home, other] = [byNode[1]![0]!, byNode[3]![0]!];
    const via = neither([home, PROBE], [other, PROBE]);
    const seen: bigint[] = [];
    const writes = [
      () => Probe.ref(other).add(ctx[3]!, { amount: 10n }),
      () => Probe.ref(home).add(ctx[2]!, { amount: 100n }),
      () => Probe.ref(other).add(ctx[0]!, { amount: 1n }),
    ];
    const watch = (async () => {
      for await (const view of Probe.ref(home).reactively().getWith(ctx[via]!, { other })) {
        seen.push(view.counter);
        const write = writes[seen.length - 1];
        if (!write) break;
        await write();
      }
    })();
    await within(CALL_TIMEOUT_MS, "the reactive reader's answers", watch);
    expect(seen).toEqual([0n, 10n, 110n, 111n]);
  });

  // Last: it kills node 3 and starts it again.
  it("fires a cron and wakes a durable sleep exactly once across a SIGKILL and restart of the node owning them", async () => {
    const VICTIM = 3;
    const byNode = idsOnEachNode("four-clock", 1, PROBE);
    const cronActor = byNode[VICTIM]![0]!;
    const sleeper = idsOnEachNode("four-sleeper", 1, PROBE)[VICTIM]![0]!;
    const wakeCounter = byNode[1]![0]!; // readable while node 3 is down
    const tasks = tasksClient(cluster.pods[0]!.url, ADMIN);
    const schedules = createClient(Schedules, bearerTransport(cluster.pods[0]!.url, ADMIN));

    // A cron every (clock) minute, scheduled through node 0; it ticks on node 3.
    const scheduled = await Probe.ref(cronActor).add(ctx[0]!, { note: cronNote({ cron: "* * * * *", scenario: "cronTick" }) });
    const scheduleId = scheduled.log[0]!;
    await waitFor(async () => (await Probe.ref(cronActor).get(ctx[0]!)).counter >= 2n, "the cron's first tick", CALL_TIMEOUT_MS);

    // A sleep of 3 clock minutes (15 s): suspended, its wake time recorded, before the kill.
    const spawnedAt = clock.now();
    const nap = Probe.ref(sleeper).spawn().run(ctx[0]!, { scenario: "sleeper", target: wakeCounter, n: BigInt(3 * MINUTE) });
    await nap.started;
    const suspended = await suspendedUntil(tasks, nap.taskId, spawnedAt + 3 * MINUTE);
    const wakeAt = Number(suspended.runAtMs);

    expect((await cluster.kill(VICTIM)).signal).toBe("SIGKILL");
    // The precondition: it was still asleep when its node died (so it can only wake after the restart).
    const killedAt = clock.now();
    expect(killedAt, "the kill came after the wake time: the machine was too slow for this sleep").toBeLessThan(wakeAt);
    expect((await Probe.ref(wakeCounter).get(ctx[1]!)).counter).toBe(0n);
    // While node 3 is down its actors answer UNAVAILABLE through the others; node 1's still answer.
    expect(await codeOf(Probe.ref(cronActor).get(ctx[0]!))).toBe(Code.Unavailable);
    expect(await codeOf(tasks.list({ stateType: PROBE, actorId: cronActor }))).toBe(Code.Unavailable);

    await cluster.restart(VICTIM);
    connect(VICTIM);
    const restartedAt = clock.now();
    const done = await within(CALL_TIMEOUT_MS * 2, "the sleeper after the restart", tasks.wait({ taskId: nap.taskId }));
    expect(done.status).toBe(TaskStatus.COMPLETED);
    // It woke once: one non-idempotent add, after its wake time.
    const woken = await Probe.ref(wakeCounter).get(ctx[2]!);
    expect(woken).toMatchObject({ counter: 1n, log: [`woke ${nap.taskId}`] });
    expect((await nap).result).toBe("woke");

    // The cron goes on after the restart: a tick due after it, then the schedule is deleted.
    const after = (t: { scheduleId: string; runAtMs: bigint }) => t.scheduleId === scheduleId && Number(t.runAtMs) > restartedAt;
    await waitFor(async () => (await tasks.list({ stateType: PROBE, actorId: cronActor })).tasks.some(after), "a tick due after the restart", CALL_TIMEOUT_MS);
    await schedules.delete({ scheduleId });
    const ticks = (await tasks.list({ stateType: PROBE, actorId: cronActor })).tasks.filter((t) => t.scheduleId === scheduleId);
    for (const t of ticks) await taskInStatus(tasks, t.taskId, TaskStatus.COMPLETED, `tick ${t.taskId}`);
    // One task per due time (each on a minute of the clock), each counted once.
    const dueTimes = ticks.map((t) => Number(t.runAtMs));
    expect(new Set(dueTimes).size).toBe(dueTimes.length);
    for (const due of dueTimes) expect(due % MINUTE).toBe(0);
    expect(dueTimes.some((due) => due < killedAt)).toBe(true);
    expect((await Probe.ref(cronActor).get(ctx[VICTIM]!)).counter).toBe(1n + BigInt(ticks.length));
  });
});
