// Workflow durability across SIGKILL (DESIGN.md §5), from the outside: a real
// server process (test/fixtures/probe-server.ts) runs probe workflows whose
// external side effects are lines appended to files (probe-scenarios.ts);
// the test kills it by PID mid-workflow, restarts it on the same data dir
// and port, and checks what the outside world saw.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { createClient, type Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { PROBE_ADMIN_TOKEN } from "../fixtures/probe-servicer.js";
import { Tasks, TaskStatus, type TaskInfo } from "../../generated/cairn/v1/tasks_pb.js";
import { Probe } from "../../generated/probe/v1/probe_cairn.js";
import { createClientTransport, type ClientTransport } from "../../src/client/client-transport.js";
import { forEachLimit, freePort, killHard, ServerProcesses, within, type SpawnedServer } from "./helpers.js";

// Server processes with both cores busy: deadlines bound hangs, they never decide a passing test.
vi.setConfig({ testTimeout: 480_000, hookTimeout: 240_000 });

const SCRIPT = fileURLToPath(new URL("../fixtures/probe-server.ts", import.meta.url));
const PROBE_TYPE = "probe.v1.Probe";
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` every `everyMs` until it returns a non-undefined value, or fails after `ms`. */
async function waitFor<T>(what: string, ms: number, check: () => Promise<T | undefined> | T | undefined, everyMs = 50): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what}: not after ${ms} ms`);
    await sleep(everyMs);
  }
}

describe("workflows across SIGKILL of the server", () => {
  const processes = new ServerProcesses();
  let effectsDir = "";

  beforeAll(async () => {
    effectsDir = await processes.tempDataDir("cairn-wf-effects-");
    // The server processes inherit this (spawnServer copies process.env).
    process.env.CAIRN_EFFECTS_DIR = effectsDir;
  });

  afterAll(async () => {
    await processes.close();
    delete process.env.CAIRN_EFFECTS_DIR;
  });

  /** Effects lines of a scenario, split into words. */
  const effects = (scenario: string): string[][] => {
    const file = path.join(effectsDir, `${scenario}.log`);
    if (!existsSync(file)) return [];
    return readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => l.length > 0)
      .map((l) => l.split(" "));
  };

  /** A server on a fresh (or the given) data dir, with a client context and a Tasks client. */
  const start = async (dataDir: string, port: number) => {
    const server = await processes.spawn({ dataDir, port, script: SCRIPT });
    const ctx = processes.connect(server.url, { timeoutMs: 60_000 });
    const transport: ClientTransport = createClientTransport(server.url, "connect");
    processes.onClose(() => transport.close());
    const tasks: Client<typeof Tasks> = createClient(Tasks, transport.transport);
    return { server, ctx, tasks };
  };

  const kill9 = async (server: SpawnedServer) => {
    const exit = await killHard(server);
    expect(exit.signal).toBe("SIGKILL");
  };

  const fresh = async () => {
    const dataDir = await processes.tempDataDir("cairn-wf-crash-");
    mkdirSync(dataDir, { recursive: true });
    return { dataDir, port: await freePort() };
  };

  it("atMostOnce: a kill inside the step makes every later run throw AtMostOnceFailedBeforeCompleting, fn never runs again", async () => {
    const { dataDir, port } = await fresh();
    const first = await start(dataDir, port);
    const task = Probe.ref("amo-1").spawn().run(first.ctx, { scenario: "amo-slow" });
    await task.started;
    const charges = () => effects("amo-slow").filter(([what, id]) => what === "charge" && id === task.taskId).length;
    // fn is running (it then sleeps 3 s): kill inside it.
    await waitFor("the charge effect", 10_000, () => (charges() > 0 ? true : undefined), 20);
    await kill9(first.server);
    expect(charges()).toBe(1);

    const second = await start(dataDir, port);
    const failing = await waitFor("AtMostOnceFailedBeforeCompleting on the task", 10_000, async () => {
      const info = await second.tasks.get({ taskId: task.taskId });
      return info.lastError.includes("AtMostOnceFailedBeforeCompleting") ? info : undefined;
    });
    expect(failing.status).not.toBe(TaskStatus.COMPLETED);
    // It keeps retrying with backoff (50 ms .. 500 ms), never calling fn again.
    const attempts = await waitFor("a few more retries", 10_000, async () => {
      const info = await second.tasks.get({ taskId: task.taskId });
      return info.attempts >= failing.attempts + 2 ? info.attempts : undefined;
    });
    expect(attempts).toBeGreaterThanOrEqual(failing.attempts + 2);
    const last = await second.tasks.get({ taskId: task.taskId });
    expect(last.lastError).toContain("AtMostOnceFailedBeforeCompleting");
    expect(last.status).not.toBe(TaskStatus.COMPLETED);
    expect(charges()).toBe(1);
    await kill9(second.server);
  });

  it("sleep: a 2-second durable sleep across a kill -9 fires once, not before its time", async () => {
    const { dataDir, port } = await fresh();
    const first = await start(dataDir, port);
    const task = Probe.ref("nap-1").spawn().run(first.ctx, { scenario: "nap2s" });
    await task.started;
    const lines = (what: string) => effects("nap2s").filter(([w, id]) => w === what && id === task.taskId);
    await waitFor("the first run to reach the sleep", 30_000, () => (lines("run").length > 0 ? true : undefined), 20);
    const startedAt = Number(lines("run")[0]![2]);
    // Killed once the wake time is stored (the task re-scheduled at it), not after a guess.
    await waitFor("the sleep's wake time to be stored", 30_000, async () =>
      Number((await first.tasks.get({ taskId: task.taskId })).runAtMs) >= startedAt + 2_000 ? true : undefined, 20);
    await kill9(first.server);
    expect(lines("fired")).toHaveLength(0);

    const second = await start(dataDir, port);
    const done = await within(60_000, "the sleep to fire", second.tasks.wait({ taskId: task.taskId }));
    expect(done.status).toBe(TaskStatus.COMPLETED);
    const fired = lines("fired");
    expect(fired).toHaveLength(1);
    // The wake time was stored before the kill: not reset by the restart, not early.
    expect(Number(fired[0]![2]) - startedAt).toBeGreaterThanOrEqual(2_000);
    await kill9(second.server);
  });

  it("Loop: a kill during iteration 1 re-runs it without re-applying its write", async () => {
    const { dataDir, port } = await fresh();
    const first = await start(dataDir, port);
    const actor = Probe.ref("loop-1");
    const task = actor.spawn().run(first.ctx, { scenario: "loop3" });
    await task.started;
    // Iteration 1's tick is applied and it is in its 400 ms pause.
    await waitFor("iteration 1's tick", 30_000, async () => {
      const view = await actor.get(first.ctx);
      return view.log.includes("it1") ? view : undefined;
    }, 20);
    await kill9(first.server);

    const second = await start(dataDir, port);
    const done = await within(60_000, "the loop to finish", second.tasks.wait({ taskId: task.taskId }));
    expect(done.status).toBe(TaskStatus.COMPLETED);
    expect(done.iteration).toBe(2);
    const view = await actor.get(second.ctx);
    expect(view.counter).toBe(3n);
    expect(view.log).toEqual(["it0", "it1", "it2"]);
    await kill9(second.server);
  });

  // Deadlines only bound a hang: with both cores busy, 1,000 workflows take minutes.
  it("recovery: 1,000 workflows (running, waiting in until, scheduled) all complete after a kill, each side effect once", { timeout: 480_000 }, async () => {
    const TOTAL = 1_000;
    const LATER_MS = 4_000;
    const { dataDir, port } = await fresh();
    const first = await start(dataDir, port);
    const gate = Probe.ref("gate");

    interface Spawned {
      readonly taskId: string;
      readonly kind: "scheduled" | "gated" | "free";
      readonly when?: number;
    }
    const spawned: Spawned[] = [];
    const t0 = Date.now();
    const kindOf = (i: number): Spawned["kind"] => (i % 5 === 0 ? "scheduled" : i % 5 <= 2 ? "gated" : "free");
    // Gated, then free, then scheduled: the scheduled ones' `when` is still
    // ahead at the kill, and the free ones spawned last are mid-pause.
    const rank = { gated: 0, free: 1, scheduled: 2 } as const;
    const order = Array.from({ length: TOTAL }, (_, i) => i).sort((a, b) => rank[kindOf(a)] - rank[kindOf(b)]);
    await forEachLimit(
      order,
      64,
      async (i) => {
        const ref = Probe.ref(`mixed-${i}`);
        const kind = kindOf(i);
        const req = { scenario: "mixed", target: kind === "gated" ? "gate" : "", n: 3_000n };
        if (kind === "scheduled") {
          const when = Date.now() + LATER_MS;
          const task = ref.spawn({ when }).run(first.ctx, req);
          await task.started;
          spawned.push({ taskId: task.taskId, kind, when });
        } else {
          const task = ref.spawn().run(first.ctx, req);
          await task.started;
          spawned.push({ taskId: task.taskId, kind });
        }
      },
    );
    const spawnMs = Date.now() - t0;
    expect(spawned.length).toBe(TOTAL);
    await sleep(1_000);
    await kill9(first.server);
    // Read after the kill: effects are appended synchronously, so this is all that ran before it.
    const beforeKill = effects("mixed");
    const step1BeforeKill = new Set(beforeKill.filter(([w]) => w === "step1").map(([, id]) => id));
    const step2BeforeKill = new Set(beforeKill.filter(([w]) => w === "step2").map(([, id]) => id));

    const second = await start(dataDir, port);
    await gate.setFlag(second.ctx, { flag: true });
    const t1 = Date.now();
    const completed = await waitFor(
      "all 1,000 workflows COMPLETED",
      240_000,
      async () => {
        const { tasks } = await second.tasks.list(
          { stateType: PROBE_TYPE, limit: 10_000 },
          { headers: { authorization: `Bearer ${PROBE_ADMIN_TOKEN}` } },
        );
        const mine = tasks.filter((t) => t.actorId.startsWith("mixed-"));
        return mine.length === TOTAL && mine.every((t) => t.status === TaskStatus.COMPLETED) ? mine : undefined;
      },
      250,
    );
    const recoverMs = Date.now() - t1;
    expect(new Set(completed.map((t: TaskInfo) => t.taskId))).toEqual(new Set(spawned.map((s) => s.taskId)));

    const lines = effects("mixed");
    const count = (what: string) => {
      const n = new Map<string, number>();
      for (const [w, id] of lines) if (w === what) n.set(id!, (n.get(id!) ?? 0) + 1);
      return n;
    };
    const step1 = count("step1");
    const step2 = count("step2");
    const firstStep1At = new Map<string, number>();
    for (const [w, id, at] of lines) if (w === "step1" && !firstStep1At.has(id!)) firstStep1At.set(id!, Number(at));

    const twiceStep1 = spawned.filter((s) => (step1.get(s.taskId) ?? 0) === 2).length;
    const early = spawned.filter((s) => s.kind === "scheduled" && firstStep1At.get(s.taskId)! < s.when!);
    console.log(
      `recovery: spawned ${TOTAL} in ${spawnMs} ms; at the kill ${step1BeforeKill.size} had run step1 and ` +
        `${step2BeforeKill.size} step2 (${spawned.filter((x) => x.kind === "scheduled" && step1BeforeKill.has(x.taskId)).length} ` +
        `scheduled ones had run step1); all completed ${recoverMs} ms after the restart; ` +
        `${twiceStep1} ran step1 twice, ${spawned.filter((x) => (step2.get(x.taskId) ?? 0) === 2).length} step2 twice ` +
        `(killed before its memo was stored); ${early.length} scheduled ones ran early`,
    );
    for (const s of spawned) {
      // atLeastOnce stores its memo just after fn returns: a kill in between
      // may repeat the step once, and only for a step that ran before the
      // kill. A memoized step never runs again, and nothing runs twice after.
      const step2Max = step2BeforeKill.has(s.taskId) ? 2 : 1;
      expect(step2.get(s.taskId) ?? 0, `step2 of ${s.taskId}`).toBeGreaterThanOrEqual(1);
      expect(step2.get(s.taskId) ?? 0, `step2 of ${s.taskId}`).toBeLessThanOrEqual(step2Max);
      expect(step1.get(s.taskId) ?? 0, `step1 of ${s.taskId}`).toBeGreaterThanOrEqual(1);
      expect(step1.get(s.taskId) ?? 0, `step1 of ${s.taskId}`).toBeLessThanOrEqual(2);
    }
    // Gated ones could not pass until before the gate opened, after the restart.
    expect(spawned.filter((s) => s.kind === "gated" && step2BeforeKill.has(s.taskId))).toEqual([]);
    // Scheduled ones ran no earlier than their `when`.
    expect(early).toEqual([]);
    expect(twiceStep1).toBe(0);
    await kill9(second.server);
  });
});
