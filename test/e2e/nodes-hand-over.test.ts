// The rest of calls across nodes (DESIGN.md §9), as real processes on
// 127.0.0.1: two nodes sharing a data directory, as test/e2e/nodes.test.ts
// starts them, serving the probe state (test/fixtures/hand-over-server.ts).
//
// - A task a writer on node 0 schedules for node 1's actor is stored in the
//   writer's commit on node 0, then handed over to node 1 under a derived id
//   (`p1_<id without its mark>-h0`): it runs there, its state write is
//   there, and the original id answers Get/Wait/Cancel with that task's
//   outcome. A SIGKILL of either node between the commit and the hand-over
//   (the test-only crash point "before-hand-over") leaves it to run once;
//   cancelled while node 1 is down, it never runs there.
// - Deleting node 1's actor wakes node 0's reactive reader of it.
// - Node 0 watches at most one of node 1's actors one by one
//   (CAIRN_PEER_WATCH_KEYS=1): more watched actors are covered by watching
//   their partition, and every reader is still woken.
import { fileURLToPath } from "node:url";
import { fromBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { ExternalContext } from "@cairn-dev/cairn";
import { Actors } from "../../generated/cairn/v1/actors_pb.js";
import { TaskStatus, type TaskInfo } from "../../generated/cairn/v1/tasks_pb.js";
import { Probe } from "../../generated/probe/v1/probe_cairn.js";
import { RunResponseSchema } from "../../generated/probe/v1/probe_pb.js";
import { nodeOfPartition, partitionOf, partitionOfId } from "../../src/api/partition.js";
import { PROBE_ADMIN_TOKEN } from "../fixtures/probe-servicer.js";
import { bearerTransport, tasksClient, taskInStatus } from "../fixtures/tasks-client.js";
import { waitFor } from "../fixtures/waiting.js";
import { freePort, killHard, ServerProcesses, stopServer, within, type SpawnedServer } from "./helpers.js";

// Server processes with both cores busy: deadlines bound hangs, they never decide a passing test.
vi.setConfig({ testTimeout: 240_000, hookTimeout: 240_000 });

const NODES = 2;
const PROBE = "probe.v1.Probe";
const SERVER = fileURLToPath(new URL("../fixtures/hand-over-server.ts", import.meta.url));
const SECRET = "hand-over-test-secret-0123456789";
const CALL_TIMEOUT_MS = 60_000;
const ownerOf = (id: string) => nodeOfPartition(partitionOf(PROBE, id, NODES), NODES);

/** Ids `prefix-n` until there are `count` owned by each node. */
function idsOnEachNode(prefix: string, count: number): string[][] {
  const byNode: string[][] = Array.from({ length: NODES }, () => []);
  for (let n = 0; byNode.some((ids) => ids.length < count); n++) {
    const id = `${prefix}-${n}`;
    const ids = byNode[ownerOf(id)]!;
    if (ids.length < count) ids.push(id);
  }
  return byNode;
}

/** The id node 0's task is handed over under, on node 1's partition (task-hand-over.ts). */
const handedOverId = (taskId: string) => `p1_${taskId.replace(/^p\d+_/, "")}-h0`;

describe("tasks handed over to the owner node, deletions and the watched-keys cap across nodes", () => {
  const processes = new ServerProcesses();
  const nodes: SpawnedServer[] = [];
  const ctx: ExternalContext[] = [];
  const starts: Array<Parameters<ServerProcesses["spawn"]>[0]> = [];
  const tasks = () => nodes.map((n) => tasksClient(n.url, PROBE_ADMIN_TOKEN));

  beforeAll(async () => {
    const dataDir = await processes.tempDataDir("cairn-hand-over-");
    const peerPort = await freePort();
    const ports = await Promise.all(Array.from({ length: NODES }, () => freePort()));
    const spawned = Array.from({ length: NODES }, (_, i) => {
      const env: Record<string, string> = {
        CAIRN_NODES: String(NODES),
        CAIRN_POD_NAME: `cairn-${i}`,
        CAIRN_PEER_URL: `http://127.0.0.1{i}:${peerPort}`,
        CAIRN_PEER_HOST: `127.0.0.1${i}`,
        CAIRN_CLUSTER_SECRET: SECRET,
        // Node 0 watches one of node 1's actors one by one; the rest through their partition.
        ...(i === 0 && { CAIRN_PEER_WATCH_KEYS: "1" }),
      };
      starts[i] = { dataDir, port: ports[i]!, env, script: SERVER };
      return processes.spawn(starts[i]!);
    });
    nodes.push(...(await Promise.all(spawned)));
    for (const node of nodes) ctx.push(processes.connect(node.url, { timeoutMs: CALL_TIMEOUT_MS }));
  });
  afterAll(async () => {
    await processes.close();
  });

  /** Schedules `scenario` from `home`'s writer (node 0) for `target` (node 1); the original task id. */
  async function schedule(home: string, target: string, scenario: string, n = 0n): Promise<string> {
    const { taskId } = await Probe.ref(home).scheduleRun(ctx[0]!, { run: { scenario, target, n }, delayMs: 0n });
    return taskId;
  }

  /** Tasks.Get, NOT_FOUND as undefined (a hand-over not made yet). */
  async function getTask(taskId: string, via = 0): Promise<TaskInfo | undefined> {
    try {
      return await tasks()[via]!.get({ taskId });
    } catch (e) {
      if (ConnectError.from(e).code === Code.NotFound) return undefined;
      throw e;
    }
  }

  it("runs on node 1 a task a writer on node 0 schedules for a node-1 actor; Get and Wait through the original id answer with its outcome", async () => {
    const [homes, targets] = idsOnEachNode("hand-over", 1);
    const [home, target] = [homes![0]!, targets![0]!];
    const taskId = await schedule(home, target, "handOverMark", 5n);
    // Stored with the writer's commit, on node 0's partition.
    expect(partitionOfId(taskId)).toBe(0);
    for (const via of [0, 1]) {
      const done = await within(CALL_TIMEOUT_MS, "Tasks.Wait on the original id", tasks()[via]!.wait({ taskId }));
      expect(done.status).toBe(TaskStatus.COMPLETED);
      expect(fromBinary(RunResponseSchema, done.response)).toMatchObject({ result: `ran on ${target} as ${handedOverId(taskId)}`, value: 5n });
      expect((await tasks()[via]!.get({ taskId })).status).toBe(TaskStatus.COMPLETED);
    }
    // It ran on node 1, as the derived id, and wrote its state there.
    expect((await tasks()[1]!.get({ taskId: handedOverId(taskId) })).status).toBe(TaskStatus.COMPLETED);
    const state = await Probe.ref(target).get(ctx[1]!);
    expect([state.counter, state.log]).toEqual([5n, [`ran as ${handedOverId(taskId)}`]]);
  });

  it("cancels the handed-over task through the original id", async () => {
    const [homes, targets] = idsOnEachNode("hand-over-cancel", 1);
    const [home, target] = [homes![0]!, targets![0]!];
    const taskId = await schedule(home, target, "handOverHold");
    const remoteId = handedOverId(taskId);
    // Handed over and waiting on node 1 for a flag that never comes.
    await waitFor(async () => (await getTask(remoteId, 1))?.status === TaskStatus.RUNNING, "the handed-over task running on node 1");
    expect((await tasks()[0]!.get({ taskId })).status).toBe(TaskStatus.RUNNING);
    await tasks()[1]!.cancel({ taskId });
    await taskInStatus(tasks()[0]!, taskId, TaskStatus.CANCELLED);
    await taskInStatus(tasks()[1]!, remoteId, TaskStatus.CANCELLED, "the cancel reaching node 1");
    // Released now, it runs no more.
    await Probe.ref(target).setFlag(ctx[1]!, { flag: true });
    expect((await tasks()[1]!.wait({ taskId: remoteId })).status).toBe(TaskStatus.CANCELLED);
  });

  it.each([
    { killed: 0, how: "node 0 (the scheduler) SIGKILLed at the crash point before the hand-over" },
    { killed: 1, how: "node 1 (the owner) SIGKILLed, down between the commit and the hand-over" },
  ])("runs the task exactly once with $how, once it is back", async ({ killed }) => {
    const [homes, targets] = idsOnEachNode(`hand-over-crash-${killed}`, 1);
    const [home, target] = [homes![0]!, targets![0]!];
    let taskId: string | undefined;
    if (killed === 0) {
      await stopServer(nodes[0]!);
      const doomed = (nodes[0] = await processes.spawn({ ...starts[0]!, env: { ...starts[0]!.env, CAIRN_TEST_CRASH_AT: "before-hand-over" } }));
      // The writer's answer may or may not beat the crash: the task is found by listing below.
      await schedule(home, target, "handOverMark", 1n).catch(() => undefined);
      expect((await within(CALL_TIMEOUT_MS, "node 0's SIGKILL", doomed.exited)).signal).toBe("SIGKILL");
      nodes[0] = await processes.spawn(starts[0]!);
    } else {
      expect((await killHard(nodes[1]!)).signal).toBe("SIGKILL");
      taskId = await schedule(home, target, "handOverMark", 1n);
      // The hand-over fails while node 1 is down, and is retried.
      await waitFor(async () => /node 1 .*unavailable/.test((await tasks()[0]!.get({ taskId: taskId! })).lastError), "a hand-over failing on node 1");
      nodes[1] = await processes.spawn(starts[1]!);
    }
    const listed = async () => (await tasks()[1]!.list({ stateType: PROBE, actorId: target })).tasks;
    taskId ??= (await waitFor(async () => (await listed()).find((t) => partitionOfId(t.taskId) === 0), "the scheduled task after the restart")).taskId;
    const done = await within(CALL_TIMEOUT_MS, "the task after the restart", tasks()[0]!.wait({ taskId }));
    expect(done.status).toBe(TaskStatus.COMPLETED);
    // Once: one handed-over task, one state write.
    expect((await listed()).map((t) => t.taskId).sort()).toEqual([taskId, handedOverId(taskId)].sort());
    const state = await Probe.ref(target).get(ctx[0]!);
    expect([state.counter, state.log]).toEqual([1n, [`ran as ${handedOverId(taskId)}`]]);
  });

  it("cancels a task whose hand-over waits for node 1 to come back: it never runs there", async () => {
    const [homes, targets] = idsOnEachNode("hand-over-cancel-down", 1);
    const [home, target] = [homes![0]!, targets![0]!];
    expect((await killHard(nodes[1]!)).signal).toBe("SIGKILL");
    const taskId = await schedule(home, target, "handOverMark", 1n);
    await waitFor(async () => /node 1 .*unavailable/.test((await tasks()[0]!.get({ taskId })).lastError), "a hand-over failing on node 1");
    await tasks()[0]!.cancel({ taskId });
    expect((await tasks()[0]!.get({ taskId })).status).toBe(TaskStatus.CANCELLED);
    nodes[1] = await processes.spawn(starts[1]!);
    // Node 1 is back and answers for the actor: no task was handed over, its state is untouched.
    expect((await tasks()[1]!.list({ stateType: PROBE, actorId: target })).tasks.map((t) => t.taskId)).toEqual([taskId]);
    expect((await Probe.ref(target).get(ctx[1]!)).log).toEqual([]);
  });

  it("wakes node 0's reactive reader of a node-1 actor when that actor is deleted", async () => {
    const [homes, targets] = idsOnEachNode("hand-over-deleted", 1);
    const [home, target] = [homes![0]!, targets![0]!];
    await Probe.ref(target).add(ctx[1]!, { amount: 5n });
    const seen: bigint[] = [];
    const reading = async () => {
      for await (const view of Probe.ref(home).reactively().getWith(ctx[0]!, { other: target })) {
        seen.push(view.counter);
        if (seen.length === 1) {
          const actors = createClient(Actors, bearerTransport(nodes[1]!.url, PROBE_ADMIN_TOKEN));
          await actors.delete({ stateType: PROBE, actorId: target });
        } else break;
      }
    };
    await within(CALL_TIMEOUT_MS, "the reader woken by the deletion", reading());
    // Absent, the default-constructible probe reads as new.
    expect(seen).toEqual([5n, 0n]);
  });

  it("wakes every reader of node 1's actors on node 0 beyond its cap of one actor watched one by one", async () => {
    const [homes, targets] = idsOnEachNode("hand-over-cap", 4);
    const pairs = homes!.map((home, i) => ({ home, target: targets![i]! }));
    const abort = new AbortController();
    const seen = new Map<string, bigint[]>(pairs.map(({ home }) => [home, []]));
    const watching = pairs.map(async ({ home, target }) => {
      for await (const view of Probe.ref(home).reactively(abort.signal).getWith(ctx[0]!, { other: target })) seen.get(home)!.push(view.counter);
    });
    try {
      await waitFor(() => pairs.every(({ home }) => seen.get(home)!.length >= 1), "the first answers");
      for (let k = 1n; k <= 3n; k++) {
        for (const { target } of pairs) await Probe.ref(target).add(ctx[1]!, { amount: 1n });
        await waitFor(() => pairs.every(({ home }) => seen.get(home)!.at(-1) === k), `counter ${k} on every reader`);
      }
    } finally {
      abort.abort();
      await Promise.allSettled(watching);
    }
  });
});
