// kill -9 of one node under writer load (issue 15's test; DESIGN.md §9):
// the server started with CAIRN_NODES=2 and CAIRN_PARTITIONS=8, a supervisor
// forking two workers on one port, each owning four partitions. 32 writers
// deposit with idempotency keys, retrying each write with its key until it
// is acknowledged; worker 1 is SIGKILLed by PID mid-load. Until the
// supervisor has it back, its actors answer UNAVAILABLE while worker 0's go
// on answering; afterwards every write completes, each applied once; a
// workflow held at a gate on worker 1 when it died resumes and finishes.
// (The 2-partition form with 8 writers, and pods: nodes.test.ts.)
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it, vi } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { ExternalContext, signHmacToken } from "@cairn-dev/cairn";
import { Account } from "../../generated/bank/v1/account_cairn.js";
import { Probe } from "../../generated/probe/v1/probe_cairn.js";
import { TaskStatus } from "../../generated/cairn/v1/tasks_pb.js";
import { BANK_TOKEN_SECRET } from "../../examples/bank/servicer.js";
import { taskWhen, tasksClient } from "../fixtures/tasks-client.js";
import { pause, waitFor } from "../fixtures/waiting.js";
import { ServerProcesses, within } from "./helpers.js";
import { idsOnEachNode, ownerOf, stablePort, type ClusterShape } from "./pods.js";

// Server processes with both cores busy: deadlines bound hangs, they never decide a passing test.
vi.setConfig({ testTimeout: 300_000, hookTimeout: 240_000 });

const SHAPE: ClusterShape = { nodes: 2, partitions: 8 };
const VICTIM = 1;
const ACCOUNT = "bank.v1.Account";
const PROBE = "probe.v1.Probe";
const NODES_SERVER = fileURLToPath(new URL("../fixtures/nodes-server.ts", import.meta.url));
const OWNER = signHmacToken({ sub: "ann" }, BANK_TOKEN_SECRET);
const ADMIN = signHmacToken({ sub: "ops", cairn_admin: true }, BANK_TOKEN_SECRET);
const IN_FLIGHT = 32;
/** Bounds of the load: writes per writer, and how long one write may keep being retried. */
const WRITES_PER_WRITER = 1_500;
const RETRY_FOR_MS = 180_000;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("CAIRN_NODES=2 × CAIRN_PARTITIONS=8: SIGKILL of a worker under writer load", () => {
  const processes = new ServerProcesses();
  afterAll(() => processes.close());

  it("answers UNAVAILABLE for its partitions until restarted, keeps serving the other's, loses or doubles no acknowledged write, and resumes its in-flight workflow", async () => {
    const server = await processes.spawn({
      dataDir: await processes.tempDataDir("cairn-pod-kill-"),
      port: await stablePort(),
      script: NODES_SERVER,
      env: { CAIRN_NODES: String(SHAPE.nodes), CAIRN_PARTITIONS: String(SHAPE.partitions) },
    });
    const workers = new Map([...server.output().matchAll(/node (\d+) of \d+ \(pid (\d+)\)/g)].map((m) => [Number(m[1]), Number(m[2])]));
    expect(workers.size).toBe(SHAPE.nodes);
    const connect = () => processes.connect(server.url, { timeoutMs: 10_000, bearerToken: OWNER });
    const setup = connect();
    const tasks = tasksClient(server.url, ADMIN);

    // Eight accounts on each node, spread over its four partitions.
    const byNode = idsOnEachNode(SHAPE, "kill-acct", 8, ACCOUNT);
    for (const id of byNode.flat()) await Account.create(setup, id, { owner: "ann" });

    // A workflow on node 1 that wrote to node 0, then waits at a gate there: in flight, provably, at the kill.
    const [[gate, destination], [home]] = idsOnEachNode(SHAPE, "kill-gated", 2, PROBE) as [[string, string], [string]];
    expect(ownerOf(SHAPE, PROBE, home)).toBe(VICTIM);
    const gated = Probe.ref(home).spawn().run(setup, { scenario: "gated", target: `${gate}|${destination}`, n: 7n });
    await gated.started;
    await taskWhen(tasks, gated.taskId, (t) => t.progress?.location === "gated", "the workflow at its gate");
    expect((await Probe.ref(destination).get(setup)).counter).toBe(7n);

    // The writers: half on each node's accounts; each write has its own key and is retried with it until acknowledged.
    const keys = new Map<string, number>(byNode.flat().map((id) => [id, 0]));
    const answers = new Map<string, bigint[]>(byNode.flat().map((id) => [id, []]));
    const acks: Array<{ node: number; at: number; retried: boolean }> = [];
    let stop = false;
    const writer = async (w: number) => {
      const node = w % SHAPE.nodes;
      const pool = byNode[node]!;
      // Its own connection; after a failure a new one, which lands on a live worker.
      let c: ExternalContext = connect();
      for (let n = 0; !stop && n < WRITES_PER_WRITER; n++) {
        const id = pool[(w + n) % pool.length]!;
        const key = `w${w}-${n}`;
        keys.set(id, keys.get(id)! + 1);
        const giveUpAt = Date.now() + RETRY_FOR_MS;
        for (let retry = 0; ; retry++) {
          try {
            const { balance } = await Account.ref(id).idempotently({ key }).deposit(c, { amount: 1n });
            answers.get(id)!.push(balance);
            acks.push({ node, at: Date.now(), retried: retry > 0 });
            break;
          } catch (e) {
            if (Date.now() > giveUpAt) throw new Error(`write ${key} on ${id} kept failing: ${String(e)}`);
            c.close();
            c = connect();
            // Not a wait for a condition: a retry's backoff, so a down node is not hammered.
            await pause(20);
          }
        }
      }
      c.close();
    };
    const load = Promise.all(Array.from({ length: IN_FLIGHT }, (_, w) => writer(w)));
    try {
      await waitFor(() => acks.length >= 200, "writes acknowledged before the kill", 120_000);

      const killed = workers.get(VICTIM)!;
      process.kill(killed, "SIGKILL");
      await waitFor(() => !alive(killed), "the worker to die");
      const diedAt = Date.now();
      // Until node 1 is back its actors answer UNAVAILABLE through node 0, naming it.
      const probe = connect();
      const downAnswers: string[] = [];
      await waitFor(async () => {
        const err = await Account.ref(byNode[VICTIM]![0]!).balance(probe).then(() => undefined, (e: unknown) => ConnectError.from(e));
        if (!err) return true;
        downAnswers.push(`${Code[err.code]}: ${err.rawMessage}`);
        return false;
      }, "node 1 to be back", 120_000);
      const backAt = Date.now();
      expect(downAnswers.length).toBeGreaterThan(0);
      // Down (the peer's connection refused or reset), then starting (its peer port open, its partitions not yet).
      for (const answer of downAnswers) expect(answer).toMatch(/^Unavailable: node 1 (\(.*\) is unavailable|is starting$)/);
      // Node 0's partitions kept serving while node 1 was down.
      expect(acks.filter((a) => a.node !== VICTIM && a.at > diedAt && a.at < backAt).length).toBeGreaterThan(0);
      expect(server.output()).toMatch(new RegExp(`node ${VICTIM} \\(pid ${killed}\\) exited \\(SIGKILL\\); restarting`));

      // The writes held by the outage complete with their keys; the load goes on over both nodes.
      const ackedAtRestart = acks.length;
      await waitFor(() => acks.filter((a, i) => i >= ackedAtRestart && a.node === VICTIM).length >= 100, "writes on node 1 after the restart", 120_000);
      expect(acks.some((a) => a.node === VICTIM && a.retried)).toBe(true);
    } finally {
      stop = true;
      await within(RETRY_FOR_MS + 60_000, "the writers", load);
    }

    // Nothing lost, nothing doubled: each account's balance is the number of its keys, each acknowledged; its answers distinct.
    const check = connect();
    for (const id of byNode.flat()) {
      const acknowledged = answers.get(id)!;
      expect(acknowledged.length, id).toBe(keys.get(id));
      expect((await Account.ref(id).balance(check)).balance, id).toBe(BigInt(keys.get(id)!));
      expect(new Set(acknowledged).size, id).toBe(acknowledged.length);
    }

    // The gated workflow resumes on the restarted node: through the gate, its first write not repeated.
    await Probe.ref(gate).setFlag(check, { flag: true });
    const done = await within(120_000, "the gated workflow", tasks.wait({ taskId: gated.taskId }));
    expect(done.status).toBe(TaskStatus.COMPLETED);
    expect(await gated).toMatchObject({ result: "through the gate", value: 14n });
    expect((await Probe.ref(destination).get(check)).counter).toBe(14n);
  });
});
