// Task control by the original id of a task handed over to the owner node
// (DESIGN.md §9, src/runtime/task-hand-over.ts), as real processes on
// 127.0.0.1: two nodes sharing a data directory, serving the probe state
// (test/fixtures/hand-over-server.ts), their clock 12 times faster than
// real time (a cron minute is 5 s: test/fixtures/scaled-clock.ts).
//
// - Pause, Resume, and the progress in Get, Watch and List through the
//   original id act on (and show) the task that runs on node 1, through
//   either node; a pause is refused with UNAVAILABLE while node 1 is down
//   (but for a task not due yet, not handed over yet).
// - A cancel while node 1 is down reaches the task there once node 1 is
//   back, though node 0 was SIGKILLed and restarted in between (a cancel
//   courier stored with the cancel).
// - A cron schedule a node-0 writer keeps for a node-1 actor: every tick is
//   handed over and runs once, across a SIGKILL and restart of node 1.
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { ExternalContext } from "@cairn-dev/cairn";
import { Schedules } from "../../generated/cairn/v1/schedules_pb.js";
import { TaskStatus, type TaskInfo } from "../../generated/cairn/v1/tasks_pb.js";
import { Probe } from "../../generated/probe/v1/probe_cairn.js";
import { nodeOfPartition, partitionOf, partitionOfId } from "../../src/api/partition.js";
import { PEER_HEADER } from "../../src/transport/forwarding.js";
import type { CronForCommand } from "../fixtures/hand-over-server.js";
import { PROBE_ADMIN_TOKEN } from "../fixtures/probe-servicer.js";
import { ScaledClock, scaledClockEnv } from "../fixtures/scaled-clock.js";
import { bearerTransport, tasksClient, taskInStatus, taskWhen } from "../fixtures/tasks-client.js";
import { waitFor } from "../fixtures/waiting.js";
import { killHard, ServerProcesses, within, type SpawnedServer } from "./helpers.js";
import { stablePort } from "./pods.js";

// Server processes with both cores busy: deadlines bound hangs, they never decide a passing test.
vi.setConfig({ testTimeout: 300_000, hookTimeout: 240_000 });

const NODES = 2;
const PROBE = "probe.v1.Probe";
const SERVER = fileURLToPath(new URL("../fixtures/hand-over-server.ts", import.meta.url));
const SECRET = "hand-over-control-secret-0123456789";
const CALL_TIMEOUT_MS = 60_000;
const MINUTE = 60_000;
const clock = new ScaledClock(Date.now(), 12);
const ownerOf = (id: string) => nodeOfPartition(partitionOf(PROBE, id, NODES), NODES);
const codeOf = (p: Promise<unknown>) => p.then((): Code | "ok" => "ok", (e: unknown) => ConnectError.from(e).code);

/** An id owned by node 0 and one owned by node 1, named after `prefix`. */
function homeAndTarget(prefix: string): [string, string] {
  const found: Array<string | undefined> = [undefined, undefined];
  for (let n = 0; found.includes(undefined); n++) found[ownerOf(`${prefix}-${n}`)] ??= `${prefix}-${n}`;
  return [found[0]!, found[1]!];
}

/** The id node 0's task is handed over under (task-hand-over.ts), and its cancel courier's. */
const handedOverId = (taskId: string) => `p1_${taskId.replace(/^p\d+_/, "")}-h0`;
const courierId = (taskId: string) => `${taskId}-c`;

describe("task control by the original id of a task handed over to the owner node", () => {
  const processes = new ServerProcesses();
  const nodes: SpawnedServer[] = [];
  const ctx: ExternalContext[] = [];
  const starts: Array<Parameters<ServerProcesses["spawn"]>[0]> = [];
  const tasks = () => nodes.map((n) => tasksClient(n.url, PROBE_ADMIN_TOKEN));
  const start = async (i: number) => {
    nodes[i] = await processes.spawn(starts[i]!);
    ctx[i] = processes.connect(nodes[i]!.url, { timeoutMs: CALL_TIMEOUT_MS });
  };

  beforeAll(async () => {
    const dataDir = await processes.tempDataDir("cairn-hand-over-control-");
    // Below the ephemeral range: both nodes restart on their ports, which an outgoing connection could hold meanwhile.
    const peerPort = await stablePort(Array.from({ length: NODES }, (_, i) => `127.0.0.1${i}`));
    const ports: number[] = [];
    while (ports.length < NODES) {
      const port = await stablePort();
      if (port !== peerPort && !ports.includes(port)) ports.push(port);
    }
    for (let i = 0; i < NODES; i++) {
      const env = {
        CAIRN_NODES: String(NODES),
        CAIRN_POD_NAME: `cairn-${i}`,
        CAIRN_PEER_URL: `http://127.0.0.1{i}:${peerPort}`,
        CAIRN_PEER_HOST: `127.0.0.1${i}`,
        CAIRN_CLUSTER_SECRET: SECRET,
        CAIRN_TEST_CLOCK: scaledClockEnv(clock),
      };
      starts[i] = { dataDir, port: ports[i]!, env, script: SERVER };
    }
    await Promise.all([0, 1].map(start));
  });
  afterAll(async () => {
    await processes.close();
  });

  /** Schedules the gate scenario from `home`'s writer (node 0) for `target` (node 1); waits for it to wait at the gate there. */
  async function gateHandedOver(home: string, target: string): Promise<string> {
    const { taskId } = await Probe.ref(home).scheduleRun(ctx[0]!, { run: { scenario: "handOverGate", target }, delayMs: 0n });
    expect(partitionOfId(taskId)).toBe(0);
    // NOT_FOUND until the hand-over is made.
    await waitFor(async () => (await getTask(handedOverId(taskId), 1))?.status === TaskStatus.RUNNING, "the handed-over task at the gate on node 1", CALL_TIMEOUT_MS);
    return taskId;
  }

  /** Tasks.Get, NOT_FOUND as undefined. */
  async function getTask(taskId: string, via: number): Promise<TaskInfo | undefined> {
    try {
      return await tasks()[via]!.get({ taskId });
    } catch (e) {
      if (ConnectError.from(e).code === Code.NotFound) return undefined;
      throw e;
    }
  }

  it("pauses and resumes the task on node 1 and shows its progress, through the original id via either node", async () => {
    const [home, target] = homeAndTarget("control-pause");
    const taskId = await gateHandedOver(home, target);
    const remoteId = handedOverId(taskId);
    // Its progress on node 1 shows under the original id, in Get and in a listing, through either node.
    for (const via of [0, 1]) {
      const got = await taskWhen(tasks()[via]!, taskId, (t) => t.progress?.location === "at the gate", `the progress under the original id via node ${via}`);
      expect([got.status, got.progress?.fraction, got.lastError]).toEqual([TaskStatus.RUNNING, 0.5, ""]);
      const row = (await tasks()[via]!.list({ stateType: PROBE, actorId: target })).tasks.find((t) => t.taskId === taskId);
      expect(row?.progress?.location).toBe("at the gate");
    }

    // And in a Watch of the original id through node 1.
    const watching = async () => {
      for await (const info of tasks()[1]!.watch({ taskId })) if (info.progress?.location === "at the gate") return info;
      throw new Error("the watch ended without the progress");
    };
    expect((await within(CALL_TIMEOUT_MS, "the progress in a watch of the original id", watching())).status).toBe(TaskStatus.RUNNING);

    // Paused through node 1: the task there is paused before the original says so.
    expect((await tasks()[1]!.pause({ taskId })).status).toBe(TaskStatus.PAUSED);
    expect((await tasks()[1]!.get({ taskId: remoteId })).status).toBe(TaskStatus.PAUSED);
    expect((await tasks()[0]!.get({ taskId })).status).toBe(TaskStatus.PAUSED);
    // The gate opens: a paused task does not go through it (the flag's commit woke no one).
    await Probe.ref(target).setFlag(ctx[1]!, { flag: true });
    expect((await tasks()[1]!.get({ taskId: remoteId })).status).toBe(TaskStatus.PAUSED);
    expect((await Probe.ref(target).get(ctx[1]!)).log).toEqual([]);

    // Resumed through node 0: it goes through once, and the original ends with it.
    expect((await tasks()[0]!.resume({ taskId })).status).not.toBe(TaskStatus.PAUSED);
    const done = await within(CALL_TIMEOUT_MS, "Tasks.Wait on the original id", tasks()[1]!.wait({ taskId })).catch(async (e: unknown) => {
      const [o, r] = [await tasks()[0]!.get({ taskId }), await tasks()[1]!.get({ taskId: remoteId })];
      throw new Error(`${String(e)}; original ${TaskStatus[o.status]} ${o.lastError} ${JSON.stringify(o.history.map((h) => h.kind))}; there ${TaskStatus[r.status]} ${r.lastError} ${JSON.stringify(r.history.map((h) => [h.kind, h.detail]))}`);
    });
    expect(done.status).toBe(TaskStatus.COMPLETED);
    expect(done.progress?.fraction).toBe(1);
    expect((await tasks()[1]!.get({ taskId: remoteId })).status).toBe(TaskStatus.COMPLETED);
    expect((await Probe.ref(target).get(ctx[0]!)).log).toEqual([`through as ${remoteId}`]);
    // Paused and resumed on both: the original's history says so, the task's there too.
    for (const [id, via] of [[taskId, 0], [remoteId, 1]] as const) {
      const kinds = (await tasks()[via]!.get({ taskId: id })).history.map((e) => e.kind);
      expect(kinds).toEqual(expect.arrayContaining(["paused", "resumed", "completed"]));
    }
  });

  it("cancels the task on node 1 once it is back, though it was down at the cancel and node 0 was SIGKILLed since; a pause meanwhile is UNAVAILABLE", async () => {
    const [home, target] = homeAndTarget("control-cancel-down");
    const taskId = await gateHandedOver(home, target);
    const remoteId = handedOverId(taskId);
    expect((await killHard(nodes[1]!)).signal).toBe("SIGKILL");

    // A task not due yet has not been handed over: paused and resumed here alone.
    const [laterHome, laterTarget] = homeAndTarget("control-later");
    const run = { scenario: "handOverMark", target: laterTarget, n: 1n };
    const { taskId: later } = await Probe.ref(laterHome).scheduleRun(ctx[0]!, { run, delayMs: BigInt(24 * 60 * MINUTE) });
    expect((await tasks()[0]!.pause({ taskId: later })).status).toBe(TaskStatus.PAUSED);
    expect((await tasks()[0]!.resume({ taskId: later })).status).toBe(TaskStatus.SCHEDULED);
    // A pause cannot reach the task there: refused, nothing changed here.
    expect(await codeOf(tasks()[0]!.pause({ taskId }))).toBe(Code.Unavailable);
    expect((await tasks()[0]!.get({ taskId })).status).not.toBe(TaskStatus.PAUSED);
    // A cancel ends the original at once; its courier keeps trying node 1.
    expect((await tasks()[0]!.cancel({ taskId })).status).toBe(TaskStatus.CANCELLED);
    await taskWhen(tasks()[0]!, courierId(taskId), (t) => /node 1 .*unavailable/.test(t.lastError), "the courier failing to reach node 1");

    // Node 0 dies and comes back before node 1 does: only the stored courier can tell node 1.
    expect((await killHard(nodes[0]!)).signal).toBe("SIGKILL");
    await start(0);
    await start(1);
    await taskInStatus(tasks()[1]!, remoteId, TaskStatus.CANCELLED, "the cancel reaching node 1");
    // Node 1 commits the cancel before it answers the courier, which records its delivery only then: waited for, not read at once.
    await taskInStatus(tasks()[0]!, courierId(taskId), TaskStatus.COMPLETED, "the courier recording its delivery");
    expect((await tasks()[0]!.get({ taskId })).status).toBe(TaskStatus.CANCELLED);
    expect((await tasks()[0]!.cancel({ taskId: later })).status).toBe(TaskStatus.CANCELLED);

    // The gate opens: the cancelled task does not go through it.
    await Probe.ref(target).setFlag(ctx[1]!, { flag: true });
    expect((await within(CALL_TIMEOUT_MS, "Tasks.Wait on the handed-over id", tasks()[1]!.wait({ taskId: remoteId }))).status).toBe(TaskStatus.CANCELLED);
    expect((await Probe.ref(target).get(ctx[1]!)).log).toEqual([]);
    // The courier is bookkeeping: listings show the original and the task it was handed over to, nothing else.
    expect((await tasks()[0]!.list({ stateType: PROBE, actorId: target })).tasks.map((t) => t.taskId).sort()).toEqual([taskId, remoteId].sort());
  });

  it("hands over every tick of a cron schedule a node-0 writer keeps for a node-1 actor, each run once, across a SIGKILL and restart of node 1", async () => {
    const [home, target] = homeAndTarget("control-cron");
    const schedules = createClient(Schedules, bearerTransport(nodes[0]!.url, PROBE_ADMIN_TOKEN));
    const cmd: CronForCommand = { cron: "* * * * *", target, scenario: "handOverMark", n: 1 };
    const scheduleId = (await Probe.ref(home).add(ctx[0]!, { note: `cron-for ${JSON.stringify(cmd)}` })).log[0]!;
    expect(partitionOfId(scheduleId)).toBe(0);
    await waitFor(async () => (await Probe.ref(target).get(ctx[1]!)).counter >= 2n, "two ticks run on node 1", CALL_TIMEOUT_MS);

    expect((await killHard(nodes[1]!)).signal).toBe("SIGKILL");
    // A tick fails its hand-over while node 1 is down, and is retried (node 0's own tasks: a listing through it would ask node 1 too).
    const onNode0 = async () => (await tasks()[0]!.list({ stateType: PROBE, actorId: target }, { headers: { [PEER_HEADER]: SECRET } })).tasks;
    const stuck = await waitFor(
      async () => (await onNode0()).find((t) => t.scheduleId === scheduleId && /node 1 .*unavailable/.test(t.lastError)),
      "a tick failing its hand-over to node 1",
      CALL_TIMEOUT_MS,
    );
    await start(1);
    const restartedAt = clock.now();

    const ticks = async () => (await tasks()[0]!.list({ stateType: PROBE, actorId: target })).tasks.filter((t) => t.scheduleId === scheduleId);
    const after = (t: TaskInfo) => Number(t.runAtMs) > restartedAt && t.status === TaskStatus.COMPLETED;
    await waitFor(async () => (await ticks()).some(after), "a tick due after the restart, run", CALL_TIMEOUT_MS);
    await schedules.delete({ scheduleId });
    const all = await ticks();
    for (const t of all) await taskInStatus(tasks()[0]!, t.taskId, TaskStatus.COMPLETED, `tick ${t.taskId}`);
    // One task per due time, each stored on node 0 and handed over once; the one due while node 1 was down among them.
    const dueTimes = all.map((t) => Number(t.runAtMs));
    expect(new Set(dueTimes).size).toBe(dueTimes.length);
    // On a minute of the clock, but for a tick retried (its run time moves on).
    for (const t of all) if (t.attempts === 0) expect(Number(t.runAtMs) % MINUTE).toBe(0);
    expect(all.map((t) => t.taskId)).toContain(stuck.taskId);
    for (const t of all) expect(partitionOfId(t.taskId)).toBe(0);
    const listed = (await tasks()[1]!.list({ stateType: PROBE, actorId: target })).tasks.map((t) => t.taskId);
    expect(listed.filter((id) => id.endsWith("-h0")).sort()).toEqual(all.map((t) => handedOverId(t.taskId)).sort());
    const state = await Probe.ref(target).get(ctx[1]!);
    expect(state.counter).toBe(BigInt(all.length));
    expect([...state.log].sort()).toEqual(all.map((t) => `ran as ${handedOverId(t.taskId)}`).sort());
  });
});
