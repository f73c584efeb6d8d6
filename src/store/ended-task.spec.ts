import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { pino } from "pino";
import { tempDirs } from "../../test/fixtures/temp-dirs.js";
import { LmdbStore } from "./lmdb-store.js";
import type { TaskEventRecord, TaskRecord } from "./store.js";

const tempDir = tempDirs("cairn-ended-task-spec-");
const stores: LmdbStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});

function store(): LmdbStore {
  const s = new LmdbStore({ path: join(tempDir(), "data"), durability: "relaxed", logger: pino({ level: "silent" }) });
  stores.push(s);
  return s;
}

const task: TaskRecord = {
  taskId: "t1",
  stateType: "probe.v1.Locker",
  actorId: "a",
  method: "Wait",
  request: new Uint8Array(),
  status: "running",
  iteration: 0,
  attempts: 0,
  runAt: 1,
  createdAt: 1,
};
const event = (at: number, kind: TaskEventRecord["kind"], detail?: string) => ({ taskId: task.taskId, event: { at, kind, ...(detail && { detail }) } });

describe("an ended task is final in the store", () => {
  it("a later write planned before it ended (a deletion cancelling it) changes neither its record nor its history", async () => {
    const s = store();
    await s.commit({ states: [], idempotency: [], tasks: [task], events: [event(1, "spawned")] });
    const completed: TaskRecord = { ...task, status: "completed", outcome: { kind: "response", bytes: new Uint8Array([1]) } };
    await s.commit({ states: [], idempotency: [], tasks: [completed], events: [event(2, "completed")] });
    // The deletion read the task while it was running and commits after it completed.
    await s.commit({ states: [], idempotency: [], tasks: [{ ...task, status: "cancelled" }], events: [event(3, "cancelled", "its actor was deleted")] });
    expect(s.getTask(task.taskId)?.status).toBe("completed");
    expect(s.taskEvents(task.taskId).map((e) => e.kind)).toEqual(["spawned", "completed"]);
  });

  it("a task that has not ended still takes the write", async () => {
    const s = store();
    await s.commit({ states: [], idempotency: [], tasks: [task], events: [event(1, "spawned")] });
    await s.commit({ states: [], idempotency: [], tasks: [{ ...task, status: "cancelled" }], events: [event(3, "cancelled", "its actor was deleted")] });
    expect(s.getTask(task.taskId)?.status).toBe("cancelled");
    expect(s.taskEvents(task.taskId).map((e) => e.kind)).toEqual(["spawned", "cancelled"]);
  });
});
