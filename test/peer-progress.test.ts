// The owner's side of the `progress` peer call (src/transport/peer-progress.ts),
// the long poll by which a node follows a task it handed over: over a real
// LMDB store, the progress hub and the dispatcher, as the owner runs them.
import { afterEach, describe, expect, it } from "vitest";
import { pino } from "pino";
import type { TaskRecord } from "../src/store/store.js";
import { LmdbStore } from "../src/store/lmdb-store.js";
import { systemClock } from "../src/runtime/clock.js";
import { Dispatcher } from "../src/runtime/tasks/dispatcher.js";
import { TaskHub } from "../src/runtime/tasks/progress.js";
import { Watchers } from "../src/runtime/watchers.js";
import { nextProgress } from "../src/transport/peer-progress.js";
import { tempDirs } from "./fixtures/temp-dirs.js";
import { within } from "./fixtures/waiting.js";

const dirs = tempDirs("cairn-peer-progress-");
const logger = pino({ level: "silent" });
let store: LmdbStore | undefined;
afterEach(async () => {
  await store?.close();
  store = undefined;
});

/** The owner's task machinery over a fresh store, with one task that never runs by itself (due in a day). */
async function owner() {
  const s = (store = new LmdbStore({ path: dirs(), logger }));
  const host = { clock: systemClock, store: s, watchers: new Watchers(), logger, durableVersion: () => 0 };
  const taskHub = new TaskHub(host);
  const tasks = new Dispatcher(host, taskHub, async () => undefined, undefined);
  const now = Date.now();
  const task: TaskRecord = {
    taskId: "p1_t-h0",
    stateType: "probe.v1.Probe",
    actorId: "a",
    method: "run",
    request: new Uint8Array(),
    status: "scheduled",
    iteration: 0,
    attempts: 0,
    runAt: now + 86_400_000,
    createdAt: now,
  };
  await s.commit({ states: [], idempotency: [], tasks: [task] });
  return { home: { tasks, taskHub }, tasks, taskHub, taskId: task.taskId };
}

describe("nextProgress (the owner's side of a handed-over task's progress)", () => {
  it("answers a newer progress at once, else when the task reports one, and the ended task once it ends", async () => {
    const { home, tasks, taskHub, taskId } = await owner();
    const signal = new AbortController().signal;
    taskHub.report(taskId, { location: "first", fraction: 0.25 });
    const first = await nextProgress(home, taskId, 0, signal);
    expect(first).toMatchObject({ progress: { location: "first", fraction: 0.25 } });
    const seen = "progress" in first ? first.progress.updatedAt : -1;

    // Seen already: answered by the next report only.
    const waiting = nextProgress(home, taskId, seen, signal);
    let answered = false;
    void waiting.then(() => (answered = true));
    await Promise.resolve();
    expect(answered).toBe(false);
    // A later clock reading than the one seen (reports within one millisecond share it).
    while (Date.now() <= seen) await new Promise((resolve) => setImmediate(resolve));
    taskHub.report(taskId, { location: "second" });
    expect(await within(waiting, undefined, "the second report")).toMatchObject({ progress: { location: "second" } });

    // Ended (cancelled here): the answer is the ended task, whatever the progress.
    const last = taskHub.progress(taskId)!.updatedAt;
    const ending = nextProgress(home, taskId, last, signal);
    await tasks.cancel(taskId);
    expect(await within(ending, undefined, "the ended task")).toMatchObject({ ended: { taskId, status: "cancelled" } });
    expect(await nextProgress(home, taskId, last, signal)).toMatchObject({ ended: { status: "cancelled" } });
  });

  it("lets go of its wait when the caller goes away, and answers NOT_FOUND for a task it does not hold", async () => {
    const { home, tasks, taskId } = await owner();
    const caller = new AbortController();
    const waiting = nextProgress(home, taskId, 0, caller.signal);
    expect(tasks.waiting).toBe(1);
    caller.abort(new Error("the calling node went away"));
    await expect(waiting).rejects.toThrow("the calling node went away");
    expect(tasks.waiting).toBe(0);
    await expect(nextProgress(home, "p1_none", 0, new AbortController().signal)).rejects.toThrow(/no task/);
  });
});
