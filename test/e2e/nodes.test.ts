// Several nodes (DESIGN.md §9, README "Running several processes"), as real
// processes on 127.0.0.1:
//
// - two processes started as a StatefulSet starts its pods (CAIRN_NODES=2,
//   CAIRN_POD_NAME=cairn-0 / cairn-1, CAIRN_PEER_URL with {i}, one shared
//   secret): each has its own public port, so a test picks the node a call
//   enters by; the bank's semantics must hold whichever node that is;
// - the bank server started with CAIRN_NODES=2: a supervisor forking two
//   workers on one port; kill -9 of one worker under writer load, and
//   SIGTERM of the supervisor.
//
// The pods serve the bank and the probe state (test/fixtures/nodes-server.ts),
// whose workflows reach actors the other node owns from inside the
// application: calls, spawns and waits, `until` and reactive readers.
//
// Placement here is one partition per node (N = M): the owner of an actor
// is `partitionOf(type, id, 2)`. With partitions inside a process it becomes
// `nodeOfPartition(partitionOf(type, id, N), M)`: only `ownerOf` changes.
import { existsSync } from "node:fs";
import * as http2 from "node:http2";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { Actors, type GetActorResponse } from "../../generated/cairn/v1/actors_pb.js";
import { Admin } from "../../generated/cairn/v1/admin_pb.js";
import { signHmacToken, type ExternalContext } from "@cairn-dev/cairn";
import { Account, TransferAborted, WithdrawAborted } from "../../generated/bank/v1/account_cairn.js";
import { Probe } from "../../generated/probe/v1/probe_cairn.js";
import { TaskStatus } from "../../generated/cairn/v1/tasks_pb.js";
import { BANK_TOKEN_SECRET } from "../../examples/bank/servicer.js";
import { nodeOfPartition, partitionOf, partitionOfId } from "../../src/api/partition.js";
import { PeerSessions } from "../../src/transport/peer-sessions.js";
import { PeerVersions } from "../../src/transport/peer-versions.js";
import { bearerTransport, tasksClient, taskWhen } from "../fixtures/tasks-client.js";
import { eventually, waitFor } from "../fixtures/waiting.js";
import { peekTwoPhase } from "../fixtures/two-phase-peek.js";
import { forEachLimit, freePort, killHard, ServerProcesses, stopServer, within, type SpawnedServer } from "./helpers.js";

// Server processes with both cores busy: deadlines bound hangs, they never decide a passing test.
vi.setConfig({ testTimeout: 480_000, hookTimeout: 240_000 });

const NODES = 2;
const ownerOf = (id: string, stateType = "bank.v1.Account") => nodeOfPartition(partitionOf(stateType, id, NODES), NODES);
const NODES_SERVER = fileURLToPath(new URL("../fixtures/nodes-server.ts", import.meta.url));
const OWNER = signHmacToken({ sub: "ann" }, BANK_TOKEN_SECRET);
const ADMIN = signHmacToken({ sub: "ops", cairn_admin: true }, BANK_TOKEN_SECRET);
const SECRET = "nodes-test-secret-0123456789";
const CALL_TIMEOUT_MS = 60_000;
const PROBE = "probe.v1.Probe";

/** Ids `prefix-n` until there are `count` owned by each node. */
function idsOnEachNode(prefix: string, count: number, stateType?: string): string[][] {
  const byNode: string[][] = Array.from({ length: NODES }, () => []);
  for (let n = 0; byNode.some((ids) => ids.length < count); n++) {
    const id = `${prefix}-${n}`;
    const ids = byNode[ownerOf(id, stateType)]!;
    if (ids.length < count) ids.push(id);
  }
  return byNode;
}

const codeOf = (p: Promise<unknown>) => p.then((): Code | "ok" => "ok", (e: unknown) => ConnectError.from(e).code);
/** A transfer's outcome: the only declared error is an overdraft. */
const transferOutcome = (p: Promise<unknown>) =>
  p.then(
    (): Code | "ok" | "overdraft" => "ok",
    (e: unknown) => (e instanceof TransferAborted && e.error.shortBy > 0n ? "overdraft" : ConnectError.from(e).code),
  );

describe("two nodes started as StatefulSet pods", () => {
  const processes = new ServerProcesses();
  const nodes: SpawnedServer[] = [];
  const ctx: ExternalContext[] = [];
  let ledger: Server;
  let ledgerUrl = "";
  /** The peers' port; node i's peer address is 127.0.0.1i (10, 11): one port, two hosts, as pods have. */
  let peerPort = 0;
  /** How each node was started, to start it again. */
  const starts: Array<Parameters<ServerProcesses["spawn"]>[0]> = [];

  beforeAll(async () => {
    ledger = createServer((req, res) => {
      req.resume();
      req.once("end", () => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ receipt: "r" })));
    });
    await new Promise<void>((resolve) => ledger.listen(0, "127.0.0.1", resolve));
    const address = ledger.address();
    ledgerUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/`;
    // One directory for both, as nodes on one machine share it (node-layout.test.ts gives each pod its own volume).
    const dataDir = await processes.tempDataDir("cairn-nodes-pods-");
    peerPort = await freePort();
    const ports = await Promise.all(Array.from({ length: NODES }, () => freePort()));
    // Started together, as `podManagementPolicy: Parallel` does: a first start waits for every node (DESIGN.md §13).
    const spawned = Array.from({ length: NODES }, (_, i) => {
      const env = {
        CAIRN_NODES: String(NODES),
        CAIRN_POD_NAME: `cairn-${i}`,
        CAIRN_PEER_URL: `http://127.0.0.1{i}:${peerPort}`,
        // A pod binds 0.0.0.0 on its own IP; here the two share a machine.
        CAIRN_PEER_HOST: `127.0.0.1${i}`,
        CAIRN_CLUSTER_SECRET: SECRET,
      };
      starts[i] = { dataDir, port: ports[i]!, env, script: NODES_SERVER };
      return processes.spawn(starts[i]!);
    });
    nodes.push(...(await Promise.all(spawned)));
    for (const node of nodes) ctx.push(processes.connect(node.url, { timeoutMs: CALL_TIMEOUT_MS, bearerToken: OWNER }));
  });
  afterAll(async () => {
    await processes.close();
    await new Promise((resolve) => ledger?.close(resolve));
  });

  it("keeps every account exact under random transfers between 200 accounts on both nodes, 64 in flight (two-phase commit across nodes)", async () => {
    const [on0, on1] = idsOnEachNode("pod-xfer", 100);
    const accounts = [...on0!, ...on1!];
    const INITIAL = 100n;
    await forEachLimit(accounts, 32, async (id) => void (await Account.create(ctx[0]!, id, { owner: "ann", initial: INITIAL })));
    // A fixed pseudo-random sequence: failures reproduce.
    let seed = 16;
    const random = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const transfers = Array.from({ length: 300 }, () => {
      const from = accounts[random(accounts.length)]!;
      let to = accounts[random(accounts.length)]!;
      while (to === from) to = accounts[random(accounts.length)]!;
      return { from, to, amount: BigInt(1 + random(80)), via: random(NODES) };
    });
    const expected = new Map(accounts.map((id) => [id, INITIAL]));
    let acknowledged = 0;
    let declined = 0;
    let across = 0;
    await forEachLimit(transfers, 64, async (t) => {
      const code = await transferOutcome(within(CALL_TIMEOUT_MS * 2, `transfer ${t.from} -> ${t.to}`, Account.ref(t.from).transfer(ctx[t.via]!, { to: t.to, amount: t.amount })));
      expect(code === "ok" || code === "overdraft", `transfer ${t.from} -> ${t.to}: ${code}`).toBe(true);
      if (code !== "ok") return void declined++;
      acknowledged++;
      if (ownerOf(t.from) !== ownerOf(t.to)) across++;
      expected.set(t.from, expected.get(t.from)! - t.amount);
      expected.set(t.to, expected.get(t.to)! + t.amount);
    });
    expect(acknowledged).toBeGreaterThan(0);
    expect(across).toBeGreaterThan(0);
    const balances = new Map<string, bigint>();
    await forEachLimit(accounts, 32, async (id) => void balances.set(id, (await Account.ref(id).balance(ctx[ownerOf(id) ^ 1]!)).balance));
    expect([...balances.values()].reduce((a, b) => a + b, 0n)).toBe(INITIAL * BigInt(accounts.length));
    expect(Object.fromEntries(balances)).toEqual(Object.fromEntries(expected));
    expect(declined + acknowledged).toBe(transfers.length);
    // Nothing stays locked on either node: a writer gets through on every account of the busiest pair.
    await Account.ref(on0![0]!).deposit(ctx[1]!, { amount: 1n });
    await Account.ref(on1![0]!).deposit(ctx[0]!, { amount: 1n });
  });

  it("replays an idempotent transfer across nodes with its first outcome, through either node", async () => {
    const [on0, on1] = idsOnEachNode("pod-xfer-idem", 1);
    const [from, to] = [on0![0]!, on1![0]!];
    for (const id of [from, to]) await Account.create(ctx[0]!, id, { owner: "ann", initial: 100n });
    const send = (via: number, amount: bigint, key: string) => Account.ref(from).idempotently({ key }).transfer(ctx[via]!, { to, amount });
    await send(0, 30n, "xfer-1");
    await send(1, 30n, "xfer-1");
    await send(0, 30n, "xfer-1");
    // A declined one replays declined, even once the balance would cover it.
    expect(await transferOutcome(send(1, 500n, "xfer-2"))).toBe("overdraft");
    await Account.ref(from).deposit(ctx[0]!, { amount: 1000n });
    expect(await transferOutcome(send(0, 500n, "xfer-2"))).toBe("overdraft");
    for (const c of ctx) expect([(await Account.ref(from).balance(c)).balance, (await Account.ref(to).balance(c)).balance]).toEqual([1070n, 130n]);
  });

  it("recovers a transfer whose participant node is SIGKILLed right after its prepare: re-locked at restart, aborted, a later writer gets through", async () => {
    const [on0, on1] = idsOnEachNode("pod-xfer-crash", 1);
    const [from, to] = [on0![0]!, on1![0]!];
    for (const id of [from, to]) await Account.create(ctx[0]!, id, { owner: "ann", initial: 100n });
    const dataDir = starts[1]!.dataDir;
    await stopServer(nodes[1]!);
    // The test-only hook on node 1 only: it kills itself once its prepared record is durable.
    const doomed = (nodes[1] = await processes.spawn({ ...starts[1]!, env: { ...starts[1]!.env, CAIRN_TEST_CRASH_AT: "participant-after-prepare" } }));
    // Coordinated by node 0 (from's node); node 1 prepares `to` with the deposit's run (txn_prepare) and dies before answering.
    await expect(Account.ref(from).transfer(ctx[0]!, { to, amount: 10n })).rejects.toThrow();
    expect((await within(60_000, "node 1's SIGKILL", doomed.exited)).signal).toBe("SIGKILL");
    expect((await peekTwoPhase(dataDir)).prepared).toBe(1);
    nodes[1] = await processes.spawn(starts[1]!);
    // Node 1 re-locked `to` and asks node 0, which never decided: abort.
    await eventually(async () => (await peekTwoPhase(dataDir)).prepared === 0, 60_000, "the prepared record resolved");
    for (const c of ctx) expect([(await Account.ref(from).balance(c)).balance, (await Account.ref(to).balance(c)).balance]).toEqual([100n, 100n]);
    await within(30_000, "a writer on each actor", Promise.all([Account.ref(from).deposit(ctx[1]!, { amount: 1n }), Account.ref(to).deposit(ctx[0]!, { amount: 1n })]));
    await Account.ref(from).transfer(ctx[1]!, { to, amount: 10n });
    for (const c of ctx) expect([(await Account.ref(from).balance(c)).balance, (await Account.ref(to).balance(c)).balance]).toEqual([91n, 111n]);
  });

  it.each([
    { point: "after-prepare", committed: false },
    { point: "after-decision", committed: true },
  ] as const)("recovers a transfer whose coordinator node is SIGKILLed $point: committed=$committed, nothing left prepared or locked", async ({ point, committed }) => {
    const [on0, on1] = idsOnEachNode(`pod-xfer-${point}`, 1);
    const [from, to] = [on0![0]!, on1![0]!];
    for (const id of [from, to]) await Account.create(ctx[0]!, id, { owner: "ann", initial: 100n });
    const dataDir = starts[0]!.dataDir;
    await stopServer(nodes[0]!);
    const doomed = (nodes[0] = await processes.spawn({ ...starts[0]!, env: { ...starts[0]!.env, CAIRN_TEST_CRASH_AT: point } }));
    // Coordinated by node 0 (from's node), which kills itself once node 1 prepared with the deposit's run (and, after-decision, once it decided).
    await expect(Account.ref(from).transfer(ctx[0]!, { to, amount: 10n })).rejects.toThrow();
    expect((await within(60_000, "node 0's SIGKILL", doomed.exited)).signal).toBe("SIGKILL");
    nodes[0] = await processes.spawn(starts[0]!);
    // Node 1 asks node 0 (after its bound), or node 0's recovery has it apply the decision.
    await eventually(async () => JSON.stringify(await peekTwoPhase(dataDir)) === JSON.stringify({ prepared: 0, decisions: 0 }), 60_000, "no two-phase record left");
    const after = committed ? [90n, 110n] : [100n, 100n];
    for (const c of ctx) expect([(await Account.ref(from).balance(c)).balance, (await Account.ref(to).balance(c)).balance]).toEqual(after);
    await within(30_000, "a writer on each actor", Promise.all([Account.ref(from).deposit(ctx[1]!, { amount: 1n }), Account.ref(to).deposit(ctx[0]!, { amount: 1n })]));
  });

  it("keeps the bank's semantics whichever node a call enters by", async () => {
    const [on0, on1] = idsOnEachNode("pod-acct", 4);
    const accounts = [...on0!, ...on1!];
    // Opened through the node that does not own them, then ALREADY_EXISTS through either.
    for (const id of accounts) await Account.create(ctx[1 - ownerOf(id)]!, id, { owner: "ann", initial: 100n });
    for (const id of accounts) {
      for (const c of ctx) expect(await codeOf(Account.ref(id).open(c, { owner: "bob" }))).toBe(Code.AlreadyExists);
    }
    for (const c of ctx) {
      expect(await codeOf(Account.ref("pod-ghost-a").balance(c))).toBe(Code.NotFound);
      expect(await codeOf(Account.ref("pod-ghost-b").deposit(c, { amount: 1n }))).toBe(Code.NotFound);
    }
    // Exact totals: 25 deposits per account, entering by alternate nodes, 16 at once.
    const deposits = accounts.flatMap((id) => Array.from({ length: 25 }, (_, k) => ({ id, k })));
    await forEachLimit(deposits, 16, async ({ id, k }) => void (await Account.ref(id).deposit(ctx[k % NODES]!, { amount: 2n })));
    for (const id of accounts) {
      for (const c of ctx) expect((await Account.ref(id).balance(c)).balance).toBe(150n);
    }
    // Typed errors and the caller's token travel through the forward: the owner's token may withdraw, none may not.
    for (const id of accounts) {
      const err = await Account.ref(id).withdraw(ctx[1 - ownerOf(id)]!, { amount: 1_000n }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WithdrawAborted);
      expect((err as WithdrawAborted).error.shortBy).toBe(850n);
    }
    const anonymous = processes.connect(nodes[0]!.url, { timeoutMs: CALL_TIMEOUT_MS });
    expect(await codeOf(Account.ref(on1![0]!).withdraw(anonymous, { amount: 1n }))).toBe(Code.Unauthenticated);
    // Every protocol is forwarded.
    for (const transport of ["connect", "grpc", "grpc-web"] as const) {
      const c = processes.connect(nodes[0]!.url, { transport, timeoutMs: CALL_TIMEOUT_MS });
      expect((await Account.ref(on1![0]!).balance(c)).balance).toBe(150n);
    }
  });

  it("replays an idempotent write sent again through the other node", async () => {
    const [on0, on1] = idsOnEachNode("pod-idem", 1);
    for (const id of [on0![0]!, on1![0]!]) {
      await Account.create(ctx[0]!, id, { owner: "ann" });
      const first = await Account.ref(id).idempotently({ key: `k-${id}` }).deposit(ctx[0]!, { amount: 7n });
      const again = await Account.ref(id).idempotently({ key: `k-${id}` }).deposit(ctx[1]!, { amount: 7n });
      expect(again.balance).toBe(first.balance);
      expect((await Account.ref(id).balance(ctx[1]!)).balance).toBe(7n);
      // The same key for another request is refused wherever it enters.
      expect(await codeOf(Account.ref(id).idempotently({ key: `k-${id}` }).deposit(ctx[1]!, { amount: 8n }))).toBe(Code.FailedPrecondition);
    }
  });

  it("finds, waits for and lists tasks through any node", async () => {
    const [on0, on1] = idsOnEachNode("pod-task", 1);
    const taskIds: string[] = [];
    for (const id of [on0![0]!, on1![0]!]) {
      await Account.create(ctx[0]!, id, { owner: "ann", initial: 1_000n });
      // Spawned through node 0 whoever owns the actor: the task lives on the owner, stored once `started` resolves.
      const task = Account.ref(id).spawn().accrueInterest(ctx[0]!, { rateBps: 100n, periods: 1, ledgerUrl });
      await task.started;
      taskIds.push(task.taskId);
    }
    const tasks = nodes.map((n) => tasksClient(n.url, ADMIN));
    for (const taskId of taskIds) {
      for (const t of tasks) expect((await t.get({ taskId })).status).not.toBe(TaskStatus.UNSPECIFIED);
    }
    for (const id of [on0![0]!, on1![0]!]) await Account.ref(id).approveInterest(ctx[1]!);
    for (const taskId of taskIds) {
      const done = await within(CALL_TIMEOUT_MS, `task ${taskId}`, tasks[0]!.wait({ taskId }));
      expect(done.status).toBe(TaskStatus.COMPLETED);
    }
    expect((await Account.ref(on1![0]!).balance(ctx[0]!)).balance).toBe(1_010n);
    // Actors.Watch through either node reads the actor where it lives; Actors.List lists both nodes' actors.
    for (const n of nodes) {
      const client = createClient(Actors, bearerTransport(n.url, ADMIN));
      const listed: string[] = [];
      let pageToken = "";
      for (let page = 0; page < 10 && (page === 0 || pageToken !== ""); page++) {
        const res = await client.list({ stateType: "bank.v1.Account", idPrefix: "pod-task", limit: 1, pageToken });
        listed.push(...res.actorIds);
        pageToken = res.nextPageToken;
      }
      expect(listed).toEqual([on0![0]!, on1![0]!].sort());
      const abort = new AbortController();
      try {
        const watch = client.watch({ stateType: "bank.v1.Account", actorId: on1![0]! }, { signal: abort.signal });
        const first = (await within(CALL_TIMEOUT_MS, "Actors.Watch", watch[Symbol.asyncIterator]().next())).value as GetActorResponse;
        expect(JSON.parse(first.stateJson)).toMatchObject({ balance: "1010" });
      } finally {
        abort.abort();
      }
    }
    for (const t of tasks) {
      const { tasks: listed } = await t.list({});
      expect(listed.map((x) => x.taskId)).toEqual(expect.arrayContaining(taskIds));
      // Newest first, a page of one at a time, across both nodes: the same tasks reversed.
      const newest: string[] = [];
      let pageToken = "";
      for (let page = 0; page < 50 && (page === 0 || pageToken !== ""); page++) {
        const res = await t.list({ method: "AccrueInterest", newestFirst: true, limit: 1, pageToken });
        newest.push(...res.tasks.map((x) => x.taskId));
        pageToken = res.nextPageToken;
      }
      const oldest = (await t.list({ method: "accrueInterest" })).tasks.map((x) => x.taskId);
      expect(oldest).toEqual(expect.arrayContaining(taskIds));
      expect(newest).toEqual([...oldest].reverse());
    }
    expect(await codeOf(tasks[1]!.get({ taskId: "no-such-task" }))).toBe(Code.NotFound);
  });

  it("watches the task list of both nodes through either node", async () => {
    const [on0, on1] = idsOnEachNode("pod-watchlist", 1);
    for (const id of [on0![0]!, on1![0]!]) await Account.create(ctx[0]!, id, { owner: "ann", initial: 1_000n });
    for (const [n, node] of nodes.entries()) {
      const abort = new AbortController();
      const pages: string[][] = [];
      const watching = (async () => {
        for await (const page of tasksClient(node.url, ADMIN).watchList({ method: "AccrueInterest", newestFirst: true }, { signal: abort.signal })) {
          pages.push(page.tasks.map((t) => t.taskId));
        }
      })().catch((e: unknown) => {
        if (!abort.signal.aborted) throw e;
      });
      try {
        await waitFor(() => pages.length > 0, `the first page through node ${n}`, CALL_TIMEOUT_MS);
        // A task on each node, spawned after the watch began: both reach the watcher.
        const spawned = [on0![0]!, on1![0]!].map((id) => Account.ref(id).spawn().accrueInterest(ctx[n]!, { rateBps: 1n, periods: 1, ledgerUrl }).taskId);
        await waitFor(() => spawned.every((id) => pages.at(-1)!.includes(id)), `both nodes' new tasks through node ${n}`, CALL_TIMEOUT_MS);
      } finally {
        abort.abort();
        await watching;
      }
    }
  });

  it("watches readers of actors on both nodes through one node", async () => {
    const [on0, on1] = idsOnEachNode("pod-watch", 1);
    const ids = [on0![0]!, on1![0]!];
    for (const id of ids) await Account.create(ctx[0]!, id, { owner: "ann" });
    const abort = new AbortController();
    const seen = new Map<string, bigint[]>(ids.map((id) => [id, []]));
    const watching = ids.map(async (id) => {
      for await (const r of Account.ref(id).reactively(abort.signal).balance(ctx[0]!, {})) seen.get(id)!.push(r.balance);
    });
    try {
      await waitFor(() => ids.every((id) => seen.get(id)!.length >= 1), "the first answers");
      for (let k = 1; k <= 3; k++) {
        for (const id of ids) await Account.ref(id).deposit(ctx[1]!, { amount: 1n });
        await waitFor(() => ids.every((id) => seen.get(id)!.at(-1) === BigInt(k)), `balance ${k} on both watches`);
      }
    } finally {
      abort.abort();
      await Promise.allSettled(watching);
    }
  });

  it("streams the commits of watched actors from their owner to a subscriber", async () => {
    const [, on1] = idsOnEachNode("pod-versions", 2);
    const [watched, other] = [on1![0]!, on1![1]!];
    for (const id of [watched, other]) await Account.create(ctx[0]!, id, { owner: "ann" });
    const sessions = new PeerSessions();
    const versions = new PeerVersions([`http://127.0.0.10:${peerPort}`, `http://127.0.0.11:${peerPort}`], SECRET, sessions);
    const seen: Array<number | undefined> = [];
    try {
      const stop = versions.watch(1, "bank.v1.Account", watched, (v) => seen.push(v));
      // The watch is registered once a commit after it arrives: deposit until one does.
      await waitFor(async () => {
        await Account.ref(watched).deposit(ctx[0]!, { amount: 1n });
        return seen.length > 0;
      }, "the first version on the stream");
      const before = seen.length;
      for (let k = 0; k < 5; k++) {
        await Account.ref(other).deposit(ctx[0]!, { amount: 1n });
        await Account.ref(watched).deposit(ctx[1]!, { amount: 1n });
      }
      await waitFor(() => seen.length >= before + 5, "five more versions");
      // Only the watched actor's commits, each version once, in order.
      expect(seen.every((v) => typeof v === "number")).toBe(true);
      const numbers = seen as number[];
      expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
      expect(new Set(numbers).size).toBe(numbers.length);
      stop();
    } finally {
      versions.close();
      sessions.close();
    }
  });

  it("backs up and exports every node's partitions through either node", async () => {
    const [on0, on1] = idsOnEachNode("pod-backup", 2);
    const ids = [...on0!, ...on1!];
    for (const id of ids) await Account.create(ctx[0]!, id, { owner: "ann", initial: 9n });
    const destination = join(await processes.tempDataDir("cairn-nodes-backup-"), "copy");
    const admin = createClient(Admin, bearerTransport(nodes[1]!.url, ADMIN));
    const { path, bytes } = await admin.backup({ destination });
    expect(path).toBe(destination);
    // Laid out as the data directory: each node's partition and layout record, so a restored volume starts as its node.
    for (const file of ["partitions/p0000/data.mdb", "partitions/p0001/data.mdb", "layout/node-0.json", "layout/node-1.json"]) {
      expect(existsSync(join(destination, file)), file).toBe(true);
    }
    expect(bytes).toBeGreaterThan(0n);
    // A destination that is not empty is refused before any node writes.
    expect(await codeOf(admin.backup({ destination }))).toBe(Code.AlreadyExists);
    const exported: string[] = [];
    for await (const actor of createClient(Admin, bearerTransport(nodes[0]!.url, ADMIN)).export({ stateType: "bank.v1.Account" })) exported.push(actor.actorId);
    expect(exported).toEqual(expect.arrayContaining(ids));
    expect(new Set(exported).size).toBe(exported.length);
  });

  it("refuses a caller that poses as a peer", async () => {
    const status = async (url: string, headers: http2.OutgoingHttpHeaders) => {
      const session = http2.connect(url);
      try {
        return await new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = session.request({ ":method": "POST", ":path": "/bank.v1.AccountMethods/Balance", "content-type": "application/json", "x-cairn-actor-id": "x", ...headers });
          let body = "";
          req.setEncoding("utf8");
          req.on("data", (d: string) => (body += d));
          req.once("response", (h) => req.once("end", () => resolve({ status: Number(h[":status"]), body })));
          req.once("error", reject);
          req.end("{}");
        });
      } finally {
        session.close();
      }
    };
    const wrong = await status(nodes[0]!.url, { "x-cairn-peer": "not-the-secret" });
    expect(wrong.status).toBe(403);
    expect(wrong.body).toContain("secret");
    const peer = await status(`http://127.0.0.10:${peerPort}`, {});
    expect(peer.status).toBe(403);
    // A call from a handler elsewhere needs the secret too; with it, a body that does not decode is INVALID_ARGUMENT.
    const call = (headers: http2.OutgoingHttpHeaders) => status(`http://127.0.0.11:${peerPort}`, { ":path": "/_cairn/peer/call/execute", ...headers });
    expect((await call({})).status).toBe(403);
    const garbled = await call({ "x-cairn-peer": SECRET });
    expect(garbled.status).toBe(400);
    expect(JSON.parse(garbled.body)).toMatchObject({ code: "invalid_argument", message: expect.stringContaining("does not decode") });
  });

  it("runs a workflow on node 0 that writes, reads, calls and spawns on an actor node 1 owns, once under a retry", async () => {
    const [homes, targets] = idsOnEachNode("remote-reach", 1, PROBE);
    const [home, target] = [homes![0]!, targets![0]!];
    const result = await Probe.ref(home).spawn().run(ctx[0]!, { scenario: "remoteReach", target });
    const [child, spawned, spawnedId] = result.result.split("/");
    expect([child, spawned]).toEqual([`echo 7 on ${target}`, `echo 11 on ${target}`]);
    // The fresh id is marked with the target's partition, on node 1; the task is found and completed through either node.
    expect(partitionOfId(spawnedId!)).toBe(partitionOf(PROBE, target, NODES));
    for (const n of nodes) expect((await tasksClient(n.url, ADMIN).get({ taskId: spawnedId! })).status).toBe(TaskStatus.COMPLETED);
    // The run failed once after its calls: the retry replayed the keyed write and the child, it did not repeat them.
    expect(result.value).toBe(5n);
    expect((await Probe.ref(target).get(ctx[1]!)).log).toEqual([`from ${home}`]);
    const children = (await tasksClient(nodes[1]!.url, ADMIN).list({ stateType: PROBE, actorId: target })).tasks;
    // The keyed child once; the unkeyed spawn once per run, as in one process.
    expect(children.filter((t) => t.status === TaskStatus.COMPLETED)).toHaveLength(3);
  });

  it("catches on node 0 the typed and NOT_FOUND errors raised on node 1, as in one process", async () => {
    const [homes] = idsOnEachNode("remote-errors", 1, PROBE);
    const [, accounts] = idsOnEachNode("remote-errors-acct", 1);
    await Account.create(ctx[0]!, accounts![0]!, { owner: "ann", initial: 10n });
    const result = await Probe.ref(homes![0]!).spawn().run(ctx[0]!, { scenario: "remoteErrors", target: accounts![0]! });
    expect(result.result).toBe("WithdrawAborted short by 999990; NotFound; RunAborted declined on its own node");
  });

  it("wakes an until on node 0 reading an actor node 1 owns when that actor commits", async () => {
    const [homes, targets] = idsOnEachNode("remote-until", 1, PROBE);
    const [home, target] = [homes![0]!, targets![0]!];
    const tasks = tasksClient(nodes[0]!.url, ADMIN);
    const task = Probe.ref(home).spawn().run(ctx[0]!, { scenario: "remoteUntil", target });
    await task.started;
    // The predicate ran and found the flag down: the run is suspended, to be woken only by node 1's commits.
    await taskWhen(tasks, task.taskId, (t) => t.progress?.location === "waiting at 0", "the until waiting");
    await Probe.ref(target).add(ctx[1]!, { amount: 3n });
    await taskWhen(tasks, task.taskId, (t) => t.progress?.location === "waiting at 3", "the until woken by a commit on node 1");
    await Probe.ref(target).setFlag(ctx[1]!, { flag: true });
    expect((await task).value).toBe(3n);
  });

  it("updates a reactive reader on node 0 that reads, through a reader call, an actor node 1 owns", async () => {
    const [homes, targets] = idsOnEachNode("remote-watch", 1, PROBE);
    const [home, target] = [homes![0]!, targets![0]!];
    const seen: bigint[] = [];
    for await (const view of Probe.ref(home).reactively().getWith(ctx[0]!, { other: target })) {
      seen.push(view.counter);
      if (seen.length === 1) await Probe.ref(target).add(ctx[1]!, { amount: 10n });
      else if (seen.length === 2) await Probe.ref(target).add(ctx[0]!, { amount: 1n });
      else if (seen.length === 3) await Probe.ref(home).add(ctx[0]!, { amount: 100n });
      else break;
    }
    expect(seen).toEqual([0n, 10n, 11n, 111n]);
  });

  it("keeps the bank's totals exact under transfer workflows between accounts on both nodes", async () => {
    const [on0, on1] = idsOnEachNode("remote-bank", 2);
    const accounts = [...on0!, ...on1!];
    for (const id of accounts) await Account.create(ctx[0]!, id, { owner: "ann", initial: 100n });
    const [runners] = idsOnEachNode("remote-bank-run", 1, PROBE);
    // 24 transfers of 30, each between accounts of different nodes, both ways; some overdraw and are declined.
    const transfers = Array.from({ length: 24 }, (_, k) => {
      const from = accounts[k % 4]!;
      const to = accounts[(k + 2) % 4]!;
      return Probe.ref(`${runners![0]!}-${k}`).spawn().run(ctx[k % NODES]!, { scenario: "remoteTransfer", target: `${from}|${to}`, n: 30n });
    });
    const results = await Promise.all(transfers.map((t) => within(CALL_TIMEOUT_MS * 2, `transfer ${t.taskId}`, (async () => await t)())));
    const moved = results.filter((r) => r.result === "moved").length;
    expect(moved + results.filter((r) => r.result === "declined").length).toBe(24);
    let total = 0n;
    for (const id of accounts) {
      const { balance } = await Account.ref(id).balance(ctx[0]!);
      expect(balance).toBeGreaterThanOrEqual(0n);
      total += balance;
    }
    expect(total).toBe(400n);
    expect(moved).toBeGreaterThan(0);
  });

  // Last in this block: it kills node 1.
  it("answers UNAVAILABLE naming a node that is down, in every protocol, and keeps serving the other", async () => {
    const [on0, on1] = idsOnEachNode("pod-down", 1);
    for (const id of [on0![0]!, on1![0]!]) await Account.create(ctx[0]!, id, { owner: "ann" });
    await killHard(nodes[1]!);
    for (const transport of ["connect", "grpc", "grpc-web"] as const) {
      const c = processes.connect(nodes[0]!.url, { transport, timeoutMs: CALL_TIMEOUT_MS });
      const err = await Account.ref(on1![0]!).deposit(c, { amount: 1n }).catch((e: unknown) => ConnectError.from(e));
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.Unavailable);
      expect((err as ConnectError).rawMessage).toMatch(/^node 1 \(http:\/\/127\.0\.0\.11:\d+\) is unavailable/);
      expect((await Account.ref(on0![0]!).deposit(c, { amount: 1n })).balance).toBeGreaterThan(0n);
    }
    // A reactive reader of node 1's actor, a list over all nodes, an id only node 1 could hold.
    const watch = (async () => {
      for await (const _ of Account.ref(on1![0]!).reactively().balance(ctx[0]!, {})) break;
    })();
    expect(await codeOf(watch)).toBe(Code.Unavailable);
    const tasks = tasksClient(nodes[0]!.url, ADMIN);
    expect(await codeOf(tasks.list({}))).toBe(Code.Unavailable);
    const watchList = (async () => {
      for await (const _ of tasks.watchList({})) break;
    })();
    expect(await codeOf(watchList)).toBe(Code.Unavailable);
    expect(await codeOf(tasks.get({ taskId: "anywhere" }))).toBe(Code.Unavailable);
  });

  // After the kill above: node 1 is down when this starts.
  it("retries a workflow calling node 1 while it is down, naming it, and finishes once node 1 is back", async () => {
    const [homes, targets] = idsOnEachNode("remote-down", 1, PROBE);
    const [home, target] = [homes![0]!, targets![0]!];
    // A reader on node 0 calling a reader on node 1 answers UNAVAILABLE naming node 1.
    const err = await Probe.ref(home).getWith(ctx[0]!, { other: target }).catch((e: unknown) => ConnectError.from(e));
    expect((err as ConnectError).code).toBe(Code.Unavailable);
    expect((err as ConnectError).rawMessage).toMatch(/^node 1 \(http:\/\/127\.0\.0\.11:\d+\) is unavailable/);
    const tasks = tasksClient(nodes[0]!.url, ADMIN);
    const task = Probe.ref(home).spawn().run(ctx[0]!, { scenario: "remoteAdd", target, n: 4n });
    await task.started;
    const failing = await taskWhen(tasks, task.taskId, (t) => /node 1 \(.*\) is unavailable/.test(t.lastError), "a run failing on node 1");
    expect(failing.status).not.toBe(TaskStatus.COMPLETED);
    nodes[1] = await processes.spawn(starts[1]!);
    const done = await within(CALL_TIMEOUT_MS * 2, "the workflow after node 1 is back", tasks.wait({ taskId: task.taskId }));
    expect(done.status).toBe(TaskStatus.COMPLETED);
    expect((await Probe.ref(target).get(ctx[1]!)).counter).toBe(4n);
  });
});

describe("CAIRN_NODES=2: a supervisor and two workers on one port", () => {
  const processes = new ServerProcesses();
  afterAll(() => processes.close());

  /** The workers' pids, by node index, from their start lines. */
  const workerPids = (server: SpawnedServer): Map<number, number> => {
    const pids = new Map<number, number>();
    for (const m of server.output().matchAll(/node (\d+) of \d+ \(pid (\d+)\)/g)) pids.set(Number(m[1]), Number(m[2]));
    return pids;
  };
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  // The public port is the kernel's choice (port 0), read back from `serving on URL`: a port picked
  // free beforehand can be taken by another test's connection during the nodes' first-start barrier.
  it("keeps serving the other node while a killed worker restarts, and loses or doubles no acknowledged write", async () => {
    const server = await processes.spawn({ dataDir: await processes.tempDataDir("cairn-nodes-sup-"), port: 0, env: { CAIRN_NODES: "2" } });
    const pids = workerPids(server);
    expect(pids.size).toBe(NODES);
    const [on0, on1] = idsOnEachNode("sup", 6);
    const accounts = [...on0!, ...on1!];
    const setup = processes.connect(server.url, { timeoutMs: CALL_TIMEOUT_MS });
    for (const id of accounts) await Account.create(setup, id, { owner: "ann" });

    // Writers: each deposit of 1 has its own key and is retried with it until acknowledged.
    const attempts = new Map<string, number>(accounts.map((id) => [id, 0]));
    const acked: Array<{ id: string; key: string; balance: bigint }> = [];
    let stop = false;
    let failures = 0;
    const writer = async (w: number) => {
      // Its own connection: after the kill, a new one lands on a live worker.
      let c = processes.connect(server.url, { timeoutMs: 10_000 });
      for (let n = 0; !stop && n < 2_000; n++) {
        const id = accounts[(w + n) % accounts.length]!;
        const key = `w${w}-${n}`;
        attempts.set(id, attempts.get(id)! + 1);
        for (let retry = 0; ; retry++) {
          try {
            const { balance } = await Account.ref(id).idempotently({ key }).deposit(c, { amount: 1n });
            acked.push({ id, key, balance });
            break;
          } catch (e) {
            failures++;
            if (retry > 200) throw e;
            c = processes.connect(server.url, { timeoutMs: 10_000 });
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      }
    };
    const load = Promise.all(Array.from({ length: 8 }, (_, w) => writer(w)));
    await waitFor(() => acked.length >= 100, "writes acknowledged before the kill", CALL_TIMEOUT_MS);

    const killed = pids.get(1)!;
    process.kill(killed, "SIGKILL");
    await waitFor(() => !alive(killed), "the worker to die");
    // Until node 1 is back its actors answer UNAVAILABLE, naming it; node 0's keep answering.
    const probe = processes.connect(server.url, { timeoutMs: CALL_TIMEOUT_MS });
    const down = await waitFor(async () => {
      const code = await codeOf(Account.ref(on1![0]!).balance(probe));
      if (code === "ok") return "back";
      const err = await Account.ref(on1![0]!).balance(probe).catch((e: unknown) => ConnectError.from(e));
      return err instanceof ConnectError && err.code === Code.Unavailable ? err.rawMessage : undefined;
    }, "node 1's actor to answer UNAVAILABLE", CALL_TIMEOUT_MS);
    if (down !== "back") expect(down).toMatch(/node 1 .* is unavailable/);
    expect((await Account.ref(on0![0]!).balance(probe)).owner).toBe("ann");
    // The supervisor restarts it.
    await waitFor(async () => (await codeOf(Account.ref(on1![0]!).balance(probe))) === "ok", "node 1 to be back", 120_000);
    expect(server.output()).toMatch(/node 1 \(pid \d+\) exited \(SIGKILL\); restarting/);
    const ackedAtRestart = acked.length;
    await waitFor(() => acked.length >= ackedAtRestart + 100, "writes after the restart", CALL_TIMEOUT_MS);
    stop = true;
    await load;

    // Nothing lost, nothing doubled: each account's balance is its attempts, and its acknowledged answers are distinct.
    for (const id of accounts) {
      expect((await Account.ref(id).balance(probe)).balance).toBe(BigInt(attempts.get(id)!));
      const answers = acked.filter((a) => a.id === id).map((a) => a.balance);
      expect(new Set(answers).size).toBe(answers.length);
    }
    expect(workerPids(server).get(1)).not.toBe(killed);
  });

  it("stops every worker cleanly on SIGTERM and exits 0", async () => {
    const server = await processes.spawn({ dataDir: await processes.tempDataDir("cairn-nodes-term-"), port: 0, env: { CAIRN_NODES: "2" } });
    const pids = [...workerPids(server).values()];
    expect(pids).toHaveLength(NODES);
    const c = processes.connect(server.url, { timeoutMs: CALL_TIMEOUT_MS });
    const [on0, on1] = idsOnEachNode("term", 1);
    for (const id of [on0![0]!, on1![0]!]) await Account.create(c, id, { owner: "ann", initial: 3n });
    const exit = await stopServer(server, 60_000);
    expect(exit).toEqual({ code: 0, signal: null });
    for (const pid of pids) await waitFor(() => !alive(pid), `worker ${pid} to exit`);
    expect(server.output()).toMatch(/stopped/);
  });
});
