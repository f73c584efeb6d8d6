// Two-phase commit across two nodes (DESIGN.md §9) at its edges, as real
// processes on 127.0.0.1, with the purse app (test/proto/probe/v1/purse.proto):
//
// - a call on the other node prepares there in the same exchange (txn_prepare), and that node asking
//   while the coordinator still runs the transaction hears abort, which the coordinator then keeps;
// - a savepoint the coordinator restores undoes the other node's calls;
// - the bounds (two-phase-bounds.ts), shrunk for the test through the
//   test-only CAIRN_TEST_TWO_PHASE_BOUNDS: an unprepared transaction's lease
//   on the other node running out, the open-transactions and calls caps,
//   a prepared participant asking its coordinator again, and a call that lost a wait-die
//   there waiting for the lock's hand-over (lockHandOverMs) and running once more;
// - lost answers: each node reaches the other's peer port through a proxy
//   (test/fixtures/peer-proxy.ts) that cuts a chosen answer (run, prepare,
//   finish) after node 1 ran it, or drops finishes or decision questions
//   for a while;
// - the reply at the durable decision: node 1 kept from applying (finishes
//   and its questions refused), readers there read the new coins, asking
//   node 0 (txn-peek), which dooms nothing while the transaction runs.
//
// After each: the coins are conserved, no two-phase record is left, and a
// later writer gets through. Node 0 coordinates (the moves start at purses
// it owns) and node 1 participates.
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import type { ExternalContext } from "@cairn-dev/cairn";
import { MoveAborted, Purse } from "../../generated/probe/v1/purse_cairn.js";
import { nodeOfPartition, partitionOf } from "../../src/api/partition.js";
import { create, toBinary } from "@bufbuild/protobuf";
import { PeerCallBatchSchema } from "../../generated/cairn/v1/peer_batch_pb.js";
import { PEER_CALL_PATH } from "../../src/transport/peer-call-route.js";
import { PEER_HEADER } from "../../src/transport/forwarding.js";
import { eventually, waitFor } from "../fixtures/waiting.js";
import { peekTwoPhase } from "../fixtures/two-phase-peek.js";
import { PeerProxy } from "../fixtures/peer-proxy.js";
import { freePort, ServerProcesses, within, type SpawnedServer } from "./helpers.js";

// Server processes with both cores busy: deadlines bound hangs, they never decide a passing test.
vi.setConfig({ testTimeout: 240_000, hookTimeout: 240_000 });

const NODES = 2;
const PURSE = "probe.v1.Purse";
const SERVER = fileURLToPath(new URL("../fixtures/purse-server.ts", import.meta.url));
const SECRET = "two-phase-nodes-secret-0123456789";
const CALL_TIMEOUT_MS = 60_000;
/** The bounds both nodes run with: small, so nothing here waits long for one. */
// lockHandOverMs: long enough that a release the test sends lands within it, even with both cores busy.
const BOUNDS = { participantLeaseMs: 1_500, maxOpenTransactions: 2, maxCallsPerTransaction: 60, askCoordinatorAfterMs: 1_000, lockHandOverMs: 1_000 };

const ownerOf = (id: string) => nodeOfPartition(partitionOf(PURSE, id, NODES), NODES);
let fresh = 0;
/** A new purse id owned by `node`. */
function purseOn(node: number, prefix: string): string {
  for (;;) {
    const id = `${prefix}-${fresh++}`;
    if (ownerOf(id) === node) return id;
  }
}
const codeOf = (p: Promise<unknown>) => p.then((): Code | "ok" => "ok", (e: unknown) => (e instanceof MoveAborted ? Code.Aborted : ConnectError.from(e).code));

describe("two-phase commit across two nodes, at its edges", () => {
  const processes = new ServerProcesses();
  /** Before node 1's peer port (node 0 reaches it through this), and before node 0's (node 1 reaches it through this). */
  let proxy: PeerProxy;
  let proxy0: PeerProxy;
  let dataDir = "";
  /** Clients entering at node 0 and node 1. */
  const ctx: ExternalContext[] = [];
  /** Node 0's purse whose Release opens node 0's holds. */
  let gate = "";
  /** Node 1's own peer port (not through the proxy). */
  let peerPort1 = 0;

  beforeAll(async () => {
    dataDir = await processes.tempDataDir("cairn-2pc-nodes-");
    const [public0, public1, peer0, peer1] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    peerPort1 = peer1!;
    proxy = await PeerProxy.start(0, { host: "127.0.0.1", port: peer1 });
    proxy0 = await PeerProxy.start(0, { host: "127.0.0.1", port: peer0 });
    // Each node reaches the other through its proxy (its own URL is its own port).
    const urls = [
      [`http://127.0.0.1:${peer0}`, `http://127.0.0.1:${proxy.port}`],
      [`http://127.0.0.1:${proxy0.port}`, `http://127.0.0.1:${peer1}`],
    ];
    const nodes: SpawnedServer[] = await Promise.all(
      [public0, public1].map((port, i) =>
        processes.spawn({
          dataDir,
          port,
          script: SERVER,
          env: {
            CAIRN_NODES: String(NODES),
            CAIRN_NODE_INDEX: String(i),
            CAIRN_PEER_URLS: urls[i]!.join(","),
            CAIRN_PEER_HOST: "127.0.0.1",
            CAIRN_CLUSTER_SECRET: SECRET,
            CAIRN_TEST_TWO_PHASE_BOUNDS: JSON.stringify(BOUNDS),
          },
        }),
      ),
    );
    for (const node of nodes) ctx.push(processes.connect(node.url, { timeoutMs: CALL_TIMEOUT_MS }));
    gate = purseOn(0, "gate");
    await Purse.create(ctx[0]!, gate, { coins: 0n });
  });
  afterAll(async () => {
    await processes.close();
    await proxy?.close();
    await proxy0?.close();
  });

  /** New purses with `coins` each, on the nodes named. */
  async function purses(prefix: string, coins: bigint, ...on: number[]): Promise<string[]> {
    const ids = on.map((node) => purseOn(node, prefix));
    for (const id of ids) await Purse.create(ctx[ownerOf(id)]!, id, { coins });
    return ids;
  }
  const coinsOf = async (id: string) => (await Purse.ref(id).get(ctx[ownerOf(id)]!)).coins;
  const held = async () => (await Purse.ref(gate).release(ctx[0]!, { tag: "" })).held;
  const release = (tag: string) => Purse.ref(gate).release(ctx[0]!, { tag });
  /** Nothing prepared or decided is left, and a writer gets through on each purse (no lock held). */
  async function settled(...ids: string[]): Promise<void> {
    await eventually(async () => JSON.stringify(await peekTwoPhase(dataDir)) === JSON.stringify({ prepared: 0, decisions: 0 }), 30_000, "no two-phase record left");
    await within(30_000, "a writer on each purse", Promise.all(ids.map((id) => Purse.ref(id).add(ctx[ownerOf(id) ^ 1]!, { amount: 0n }))));
  }

  // First: a Move that calls node 1 again (the nested one below, the chatty ones) teaches node 0 that
  // Move does, and from then on its calls there no longer prepare with the call.
  it("prepares with the call on node 1 (no txn-prepare); node 1 asking while the coordinator still runs hears abort, and the coordinator cannot commit it", async () => {
    const [a, b] = await purses("ask-running", 100n, 0, 1);
    const prepares = proxy.seen(`${PEER_CALL_PATH}txn-prepare`);
    const move = codeOf(Purse.ref(a).move(ctx[0]!, { to: b!, amount: 5n, hold: "ask-running" }));
    // Node 1 prepared b with the call (a durable record), and the move holds on node 0 before its decision.
    await waitFor(async () => (await held()) === 1, "the move held after its call on node 1");
    expect((await peekTwoPhase(dataDir)).prepared).toBe(1);
    // After askCoordinatorAfterMs node 1 asks node 0, which still runs the move: "abort", and the move may not decide.
    await eventually(async () => (await peekTwoPhase(dataDir)).prepared === 0, 30_000, "node 1's prepared record dropped");
    await within(30_000, "a writer on b", Purse.ref(b!).add(ctx[1]!, { amount: 1n }));
    expect(await held()).toBe(1);
    await release("ask-running");
    // Its decision is refused (a conflict): it runs again from the top, prepares with its call again, and commits.
    expect(await within(CALL_TIMEOUT_MS, "the move", move)).toBe("ok");
    expect([await coinsOf(a!), await coinsOf(b!)]).toEqual([95n, 106n]);
    expect(proxy.seen(`${PEER_CALL_PATH}txn-prepare`)).toBe(prepares);
    await settled(a!, b!);
  });

  it("a reader of an actor prepared with the call while the move still runs reads the old coins, asking node 0 (txn-peek) without making the move abort", async () => {
    const [a, b] = await purses("peek-running", 100n, 0, 1);
    const asking = `${PEER_CALL_PATH}txn-decision`;
    const peeking = `${PEER_CALL_PATH}txn-peek`;
    // Node 1's own question would make the held move abort (the test above): refused meanwhile.
    void proxy0.arm(asking, "refuse", Number.MAX_SAFE_INTEGER);
    try {
      const move = codeOf(Purse.ref(a).move(ctx[0]!, { to: b!, amount: 5n, hold: "peek-running" }));
      await waitFor(async () => (await held()) === 1, "the move held after its call on node 1");
      expect((await peekTwoPhase(dataDir)).prepared).toBe(1);
      const [runs, peeks] = [proxy.seen(`${PEER_CALL_PATH}txn-run`), proxy0.seen(peeking)];
      // Undecided: read as before the move, from a client on either node.
      expect((await Purse.ref(b!).get(ctx[1]!)).coins).toBe(100n);
      expect((await Purse.ref(b!).get(ctx[0]!)).coins).toBe(100n);
      expect(proxy0.seen(peeking) - peeks).toBe(2);
      await release("peek-running");
      expect(await within(CALL_TIMEOUT_MS, "the move", move)).toBe("ok");
      // Not made to abort: its call on node 1 did not run again.
      expect(proxy.seen(`${PEER_CALL_PATH}txn-run`)).toBe(runs);
    } finally {
      proxy0.disarm(asking);
    }
    await settled(a!, b!);
    expect([await coinsOf(a!), await coinsOf(b!)]).toEqual([95n, 105n]);
  });

  it("moves coins across nodes, and a nested transaction's call on the other node is undone when it fails and is caught", async () => {
    const [a, via, b] = await purses("nest", 100n, 0, 0, 1);
    await Purse.ref(a).move(ctx[0]!, { to: b!, amount: 10n });
    expect([await coinsOf(a!), await coinsOf(b!)]).toEqual([90n, 110n]);
    // Slip on `via` adds 7 to b (node 1) and takes 7 from via, then fails; Move catches it and keeps its own -1.
    await Purse.ref(a).move(ctx[0]!, { to: b!, amount: 7n, nestedVia: via! });
    expect({ a: await coinsOf(a!), via: await coinsOf(via!), b: await coinsOf(b!) }).toEqual({ a: 89n, via: 100n, b: 110n });
    await settled(a!, via!, b!);
  });

  it("reads its writes on the other node right after the reply: a reader called in a writer's handler and a client read the new balance there", async () => {
    const [a, b, peeker] = await purses("read-your-writes", 100n, 0, 1, 1);
    for (let i = 1n; i <= 5n; i++) {
      await Purse.ref(a).move(ctx[0]!, { to: b!, amount: 1n });
      // Peek holds peeker's writer lock on node 1 and reads b from its handler (such a reader cannot wait for b).
      expect((await within(CALL_TIMEOUT_MS, "a reader in a writer on node 1", Purse.ref(peeker!).peek(ctx[1]!, { of: b! }))).coins).toBe(100n + 2n * i - 1n);
      expect(await coinsOf(b!)).toBe(100n + 2n * i - 1n);
      await Purse.ref(a).move(ctx[0]!, { to: b!, amount: 1n });
      // And a client read first, from either node.
      expect((await Purse.ref(b!).get(ctx[0]!)).coins).toBe(100n + 2n * i);
    }
    await settled(a!, b!, peeker!);
    expect([await coinsOf(a!), await coinsOf(b!)]).toEqual([90n, 110n]);
  });

  it("replies once its decision is durable: before node 1 applies it, clients and a reader in a writer's handler there read the new coins; a writer there waits for the apply", async () => {
    const [a, b, peeker] = await purses("reply-at-decision", 100n, 0, 1, 1);
    const [finishing, asking, peeking] = ["txn-finish", "txn-decision", "txn-peek"].map((op) => `${PEER_CALL_PATH}${op}`) as [string, string, string];
    // Node 1 hears the decision neither from node 0 nor by asking: the move stays prepared there.
    void proxy.arm(finishing, "refuse", Number.MAX_SAFE_INTEGER);
    void proxy0.arm(asking, "refuse", Number.MAX_SAFE_INTEGER);
    try {
      expect(await within(CALL_TIMEOUT_MS, "the move", codeOf(Purse.ref(a).move(ctx[0]!, { to: b!, amount: 10n })))).toBe("ok");
      expect((await peekTwoPhase(dataDir)).prepared).toBe(1);
      const peeks = proxy0.seen(peeking);
      expect((await Purse.ref(b!).get(ctx[1]!)).coins).toBe(110n);
      expect((await Purse.ref(b!).get(ctx[0]!)).coins).toBe(110n);
      expect((await within(CALL_TIMEOUT_MS, "a reader in a writer on node 1", Purse.ref(peeker!).peek(ctx[1]!, { of: b! }))).coins).toBe(110n);
      // The first read asked node 0; node 1 kept its answer, "committed", for the others.
      expect(proxy0.seen(peeking) - peeks).toBe(1);
      expect((await peekTwoPhase(dataDir)).prepared).toBe(1);
      // A writer waits for b's lock, which goes once node 1 applies the move (after the refusals end).
      const add = Purse.ref(b!).add(ctx[1]!, { amount: 1n });
      proxy.disarm(finishing);
      proxy0.disarm(asking);
      expect((await within(CALL_TIMEOUT_MS, "the writer on b", add)).coins).toBe(111n);
    } finally {
      proxy.disarm(finishing);
      proxy0.disarm(asking);
    }
    await settled(a!, b!, peeker!);
    expect([await coinsOf(a!), await coinsOf(b!)]).toEqual([90n, 111n]);
  });

  it("lets go of an unprepared transaction's actors once its lease runs out, and the transaction retries at its prepare", async () => {
    const [a, b] = await purses("lease", 100n, 0, 1);
    const move = codeOf(Purse.ref(a).move(ctx[0]!, { to: b!, amount: 5n, hold: "lease" }));
    // Held on node 0 after its call locked b on node 1, and silent from then on.
    await waitFor(async () => (await held()) === 1, "the move held after its call on node 1");
    // Blocked while the lease runs; through once node 1 lets go, while the move still holds.
    await within(30_000, "a writer on b", Purse.ref(b).add(ctx[1]!, { amount: 1n }));
    expect(await held()).toBe(1);
    await release("lease");
    // Its prepare finds b let go: a conflict, so it runs again from the top, and commits.
    expect(await within(CALL_TIMEOUT_MS, "the move", move)).toBe("ok");
    expect([await coinsOf(a!), await coinsOf(b!)]).toEqual([95n, 106n]);
    await settled(a!, b!);
  });

  it("refuses a transaction beyond the open-transactions cap on the other node with RESOURCE_EXHAUSTED, then serves it once they end", async () => {
    const [a1, a2, a3, b1, b2, b3] = await purses("cap", 100n, 0, 0, 0, 1, 1, 1);
    // Two held open on node 1 (its cap), each renewing its lease with a read there.
    const moves = [codeOf(Purse.ref(a1).move(ctx[0]!, { to: b1!, amount: 1n, hold: "cap", chatty: true })), codeOf(Purse.ref(a2).move(ctx[0]!, { to: b2!, amount: 2n, hold: "cap", chatty: true }))];
    await waitFor(async () => (await held()) === 2, "two moves held open on node 1");
    expect(await codeOf(Purse.ref(a3).move(ctx[0]!, { to: b3!, amount: 3n }))).toBe(Code.ResourceExhausted);
    await release("cap");
    expect(await within(CALL_TIMEOUT_MS, "the held moves", Promise.all(moves))).toEqual(["ok", "ok"]);
    expect(await codeOf(Purse.ref(a3).move(ctx[0]!, { to: b3!, amount: 3n }))).toBe("ok");
    expect(await Promise.all([a1, a2, a3, b1, b2, b3].map((id) => coinsOf(id!)))).toEqual([99n, 98n, 97n, 101n, 102n, 103n]);
    await settled(a1!, a2!, a3!, b1!, b2!, b3!);
  });

  it("refuses a transaction making more calls on the other node than the cap with RESOURCE_EXHAUSTED, changing nothing", async () => {
    const [a, b] = await purses("calls", 100n, 0, 1);
    expect(await codeOf(Purse.ref(a).move(ctx[0]!, { to: b!, amount: 4n, calls: BOUNDS.maxCallsPerTransaction }))).toBe(Code.ResourceExhausted);
    expect([await coinsOf(a!), await coinsOf(b!)]).toEqual([100n, 100n]);
    // One under the cap (its first call is the move itself) goes through.
    expect(await codeOf(Purse.ref(a).move(ctx[0]!, { to: b!, amount: 4n, calls: BOUNDS.maxCallsPerTransaction - 1 }))).toBe("ok");
    expect([await coinsOf(a!), await coinsOf(b!)]).toEqual([96n, 104n]);
    await settled(a!, b!);
  });

  it.each(["txn-run", "txn-prepare", "txn-finish"])("recovers when the answer of %s is lost after node 1 ran it: coins conserved, nothing left, later writers through", async (op) => {
    const [a, b] = await purses(`lost-${op}`, 100n, 0, 1);
    // A txn-prepare is sent once node 0 learned that Move calls node 1 again (here if no earlier test taught it).
    if (op === "txn-prepare") await Purse.ref(a).move(ctx[0]!, { to: b!, amount: 0n, calls: 1 });
    const cut = proxy.arm(`${PEER_CALL_PATH}${op}`, "cut");
    // After a lost prepare answer node 1 cannot hear the decision by asking: only the coordinator's abort frees b.
    const asking = `${PEER_CALL_PATH}txn-decision`;
    if (op === "txn-prepare") void proxy0.arm(asking, "drop", Number.MAX_SAFE_INTEGER);
    const outcome = await codeOf(Purse.ref(a).move(ctx[0]!, { to: b!, amount: 10n }));
    await within(1_000, "the cut", cut);
    try {
      await eventually(async () => (await peekTwoPhase(dataDir)).prepared === 0, 30_000, "node 1's prepared record dropped");
    } finally {
      proxy0.disarm(asking);
    }
    // A lost finish comes after the decision: committed, and the reply must say so.
    if (op === "txn-finish") expect(outcome).toBe("ok");
    else expect([Code.Unavailable, "ok"]).toContain(outcome);
    const moved = outcome === "ok" ? 10n : 0n;
    await settled(a!, b!);
    expect([await coinsOf(a!), await coinsOf(b!)]).toEqual([100n - moved, 100n + moved]);
    await Purse.ref(a).move(ctx[0]!, { to: b!, amount: 1n });
    expect([await coinsOf(a!), await coinsOf(b!)]).toEqual([99n - moved, 101n + moved]);
  });

  it("a call that loses a wait-die on the other node lets go there: no abort is sent for it, and the transaction commits once the older one is done", async () => {
    const [a, b, c, gate1] = await purses("die", 100n, 0, 1, 1, 1);
    const heldOn1 = async () => (await Purse.ref(gate1!).release(ctx[1]!, { tag: "" })).held;
    // The older transaction, on node 1 alone, holds b.
    const older = codeOf(Purse.ref(b).move(ctx[1]!, { to: c!, amount: 1n, hold: "older" }));
    await waitFor(async () => (await heldOn1()) === 1, "the older move held on node 1");
    const [runs, finishes] = [proxy.seen(`${PEER_CALL_PATH}txn-run`), proxy.seen(`${PEER_CALL_PATH}txn-finish`)];
    // The younger, from node 0, loses b on node 1 (wait-die) and retries while the older holds.
    const younger = codeOf(Purse.ref(a).move(ctx[0]!, { to: b!, amount: 5n }));
    await waitFor(async () => proxy.seen(`${PEER_CALL_PATH}txn-run`) - runs >= 3, "the younger move lost b a few times");
    await Purse.ref(gate1!).release(ctx[1]!, { tag: "older" });
    expect(await within(CALL_TIMEOUT_MS, "the older move", older)).toBe("ok");
    expect(await within(CALL_TIMEOUT_MS, "the younger move", younger)).toBe("ok");
    // Counted once nothing is left prepared.
    await settled(a!, b!, c!);
    // Node 1 let go of each lost attempt itself: the one finish is the commit.
    expect(proxy.seen(`${PEER_CALL_PATH}txn-finish`) - finishes).toBe(1);
    expect({ a: await coinsOf(a!), b: await coinsOf(b!), c: await coinsOf(c!) }).toEqual({ a: 95n, b: 104n, c: 101n });
  });

  it("a call that loses a wait-die on the other node, holding nothing there, runs there once more when the lock changes hands: no retry from the top", async () => {
    const [a, b, c, gate1] = await purses("hand-over", 100n, 0, 1, 1, 1);
    const heldOn1 = async () => (await Purse.ref(gate1!).release(ctx[1]!, { tag: "" })).held;
    const older = codeOf(Purse.ref(b).move(ctx[1]!, { to: c!, amount: 1n, hold: "older-hand-over" }));
    await waitFor(async () => (await heldOn1()) === 1, "the older move held on node 1");
    const runs = proxy.seen(`${PEER_CALL_PATH}txn-run`);
    // The younger loses b on node 1 and waits there (up to lockHandOverMs) for b to change hands.
    const younger = codeOf(Purse.ref(a).move(ctx[0]!, { to: b!, amount: 5n }));
    await waitFor(async () => proxy.seen(`${PEER_CALL_PATH}txn-run`) - runs >= 1, "the younger move's call reached node 1");
    await Purse.ref(gate1!).release(ctx[1]!, { tag: "older-hand-over" });
    expect(await within(CALL_TIMEOUT_MS, "the older move", older)).toBe("ok");
    expect(await within(CALL_TIMEOUT_MS, "the younger move", younger)).toBe("ok");
    // Its one call there ran after the hand-over: the coordinator did not retry it.
    expect(proxy.seen(`${PEER_CALL_PATH}txn-run`) - runs).toBe(1);
    await settled(a!, b!, c!);
    expect({ a: await coinsOf(a!), b: await coinsOf(b!), c: await coinsOf(c!) }).toEqual({ a: 95n, b: 104n, c: 101n });
  });

  it("a participant whose finishes do not arrive asks its coordinator again after the bound, and applies the decision", async () => {
    const [a, b] = await purses("ask", 100n, 0, 1);
    const path = `${PEER_CALL_PATH}txn-finish`;
    const dropped = proxy.arm(path, "drop", Number.MAX_SAFE_INTEGER);
    try {
      const move = codeOf(Purse.ref(a).move(ctx[0]!, { to: b!, amount: 10n }));
      await within(30_000, "a dropped finish", dropped);
      // No finish reaches node 1: it asks node 0 (directly) after askCoordinatorAfterMs, hears "commit", applies.
      // Under load node 1 may ask before the decision: that attempt aborts (no prepared record for a moment)
      // and the move retries, so wait for the applied move, not only for the record to go.
      await eventually(async () => (await peekTwoPhase(dataDir)).prepared === 0 && (await coinsOf(b!)) === 110n, 30_000, "node 1's prepared record applied");
      proxy.disarm(path);
      expect(await within(CALL_TIMEOUT_MS, "the move", move)).toBe("ok");
    } finally {
      proxy.disarm(path);
    }
    await settled(a!, b!);
    expect([await coinsOf(a!), await coinsOf(b!)]).toEqual([90n, 110n]);
  });

  it("sends prepares and finishes ready together as one txn-batch exchange: concurrent moves across nodes conserve the coins", async () => {
    const ids = await purses("batch", 1_000n, 0, 0, 0, 0, 1, 1, 1, 1);
    const [from, to] = [ids.slice(0, 4), ids.slice(4)];
    const batches = proxy.seen(`${PEER_CALL_PATH}txn-batch`);
    let moved = 0n;
    // Finishes after one group commit of decisions are ready in one turn: batched within a few rounds (bounded).
    for (let round = 0; round < 20 && proxy.seen(`${PEER_CALL_PATH}txn-batch`) === batches; round++) {
      const moves = Array.from({ length: 16 }, (_, i) => codeOf(Purse.ref(from[i % 4]!).move(ctx[0]!, { to: to[(i + round) % 4]!, amount: 1n })));
      const codes = await within(CALL_TIMEOUT_MS, "16 moves across nodes", Promise.all(moves));
      // Node 1 holds at most BOUNDS.maxOpenTransactions unprepared: the rest are refused, changing nothing.
      expect(codes.filter((c) => c !== "ok" && c !== Code.ResourceExhausted)).toEqual([]);
      moved += BigInt(codes.filter((c) => c === "ok").length);
    }
    expect(proxy.seen(`${PEER_CALL_PATH}txn-batch`)).toBeGreaterThan(batches);
    await settled(...ids);
    const coins = await Promise.all(ids.map(coinsOf));
    expect(coins.reduce((a, b) => a + b, 0n)).toBe(8_000n);
    expect(coins.slice(0, 4).reduce((a, b) => a + b, 0n)).toBe(4_000n - moved);
  });

  it("refuses a txn-batch that carries an op it may not, or too many calls, whole: INVALID_ARGUMENT, nothing runs", async () => {
    const post = (body: Uint8Array) =>
      fetch(`http://127.0.0.1:${peerPort1}${PEER_CALL_PATH}txn-batch`, { method: "POST", headers: { [PEER_HEADER]: SECRET, "content-type": "application/proto" }, body: Buffer.from(body) });
    const finish = { op: "txn-finish", call: new Uint8Array() };
    const run = await post(toBinary(PeerCallBatchSchema, create(PeerCallBatchSchema, { calls: [finish, { op: "txn-run", call: new Uint8Array() }] })));
    expect(run.status).toBe(400);
    expect(await run.text()).toContain("cannot carry");
    const long = await post(toBinary(PeerCallBatchSchema, create(PeerCallBatchSchema, { calls: Array.from({ length: 257 }, () => finish) })));
    expect(long.status).toBe(400);
    expect(await long.text()).toContain("at most 256");
    const garbage = await post(new Uint8Array([0x0a, 0xff, 0xff]));
    expect(garbage.status).toBe(400);
    expect(JSON.stringify(await peekTwoPhase(dataDir))).toBe(JSON.stringify({ prepared: 0, decisions: 0 }));
  });
});
