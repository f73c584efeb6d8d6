// Deleting actors (README, "Deleting actors"), through a real server: from a
// writer of the actor (`ctx.deleteActor()`), and by operators through
// `cairn.v1.Actors/Delete` and `cairn actors delete`. The state, the cron
// schedules and the unfinished tasks go in one commit; watchers see the
// actor gone; a constructor creates it again; refused callers delete nothing.
import { Code, createClient, type Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hmacTokenVerifier, signHmacToken, type ExternalContext } from "@cairn-dev/cairn";
import { TestApplication } from "@cairn-dev/cairn/testing";
import { Actors } from "../generated/cairn/v1/actors_pb.js";
import { Schedules } from "../generated/cairn/v1/schedules_pb.js";
import { TaskStatus, type Tasks } from "../generated/cairn/v1/tasks_pb.js";
import { Locker } from "../generated/probe/v1/locker_cairn.js";
import { codeOf } from "./fixtures/call-outcome.js";
import { CLI_TEST_TIMEOUT_MS, runCli } from "./fixtures/cli-process.js";
import { LockerServicerImpl } from "./fixtures/locker-servicer.js";
import { PROBE_ADMIN_TOKEN, PROBE_TOKEN_SECRET } from "./fixtures/probe-servicer.js";
import { bearerTransport, taskInStatus, taskWhen, tasksClient } from "./fixtures/tasks-client.js";
import { rejectionOf, within } from "./fixtures/waiting.js";

const LOCKER = "probe.v1.Locker";
const tokenOf = (sub: string) => signHmacToken({ sub }, PROBE_TOKEN_SECRET);

let app: TestApplication;
let ann: ExternalContext;
let bob: ExternalContext;
let tasks: Client<typeof Tasks>;
let schedules: Client<typeof Schedules>;
const actorsAs = (token: string | null) => createClient(Actors, bearerTransport(app.url, token));

beforeAll(async () => {
  app = await TestApplication.start({ servicers: [LockerServicerImpl], tokenVerifier: hmacTokenVerifier(PROBE_TOKEN_SECRET) });
  ann = app.context({ bearerToken: tokenOf("ann") });
  bob = app.context({ bearerToken: tokenOf("bob") });
  tasks = tasksClient(app.url);
  schedules = createClient(Schedules, bearerTransport(app.url, PROBE_ADMIN_TOKEN));
});
afterAll(() => app?.stop());

/**
 * An open locker of ann's with what deleting it must take along: a workflow
 * waiting on it in `until`, a task due in an hour, and a cron schedule.
 */
async function furnished(id: string) {
  await Locker.ref(id).open(ann, { owner: "ann" });
  await Locker.ref(id).touch(ann, { cron: "0 3 1 1 *" });
  const waiting = Locker.ref(id).spawn().wait(ann, {});
  const later = Locker.ref(id).spawn({ when: Date.now() + 3_600_000 }).wait(ann, {});
  await Promise.all([waiting.started, later.started]);
  // Suspended in until: its run has ended and it waits for a commit.
  await taskWhen(tasks, waiting.taskId, (t) => t.history.some((e) => e.kind === "started") && t.status === TaskStatus.RUNNING, "the wait to start");
  const scheduleIds = (await schedules.list({ actorId: id })).schedules.map((s) => s.scheduleId);
  expect(scheduleIds).toHaveLength(1);
  return { waiting, later, scheduleIds };
}

/** The actor is gone with everything `furnished` gave it. */
async function gone(id: string, taskIds: readonly string[]) {
  expect(await codeOf(Locker.ref(id).get(ann))).toBe(Code.NotFound);
  expect(await codeOf(actorsAs(PROBE_ADMIN_TOKEN).get({ stateType: LOCKER, actorId: id }))).toBe(Code.NotFound);
  for (const taskId of taskIds) {
    const info = await taskInStatus(tasks, taskId, TaskStatus.CANCELLED);
    expect(info.history.at(-1)).toMatchObject({ kind: "cancelled", detail: "its actor was deleted" });
  }
  expect((await schedules.list({ actorId: id })).schedules).toEqual([]);
}

describe("a writer deletes its actor", () => {
  it("takes its state, schedules and unfinished tasks in one commit; a non-constructor call is NOT_FOUND, a constructor creates it afresh", async () => {
    const { waiting, later } = await furnished("w-1");
    const closed = await Locker.ref("w-1").close(ann);
    expect(closed.touches).toBe(1_001n); // the reply is the writer's; the state is gone
    await gone("w-1", [waiting.taskId, later.taskId]);
    // Awaiting a task of the deleted actor says it was cancelled.
    expect(await codeOf(Promise.resolve(waiting))).toBe(Code.Canceled);
    expect(await codeOf(Locker.ref("w-1").touch(ann, {}))).toBe(Code.NotFound);
    // A workflow may not start on it either.
    expect(await codeOf(Locker.ref("w-1").spawn().wait(ann, {}).started)).toBe(Code.NotFound);
    const reopened = await Locker.ref("w-1").open(bob, { owner: "bob" });
    expect(reopened).toMatchObject({ owner: "bob", touches: 0n });
    expect((await Locker.ref("w-1").touch(bob, {})).touches).toBe(1n);
  });

  it("a workflow that deletes its own actor completes; the actor's other tasks are cancelled", async () => {
    const { waiting } = await furnished("w-7");
    const retired = Locker.ref("w-7").spawn().retire(ann, {});
    expect((await within(Promise.resolve(retired), 60_000, "the retiring workflow")).touches).toBe(1_001n);
    expect((await tasks.get({ taskId: retired.taskId })).status).toBe(TaskStatus.COMPLETED);
    await gone("w-7", [waiting.taskId]);
  });

  it("wakes reactive watchers: a watch of the actor ends with NOT_FOUND", async () => {
    await Locker.ref("w-2").open(ann, { owner: "ann" });
    const ac = new AbortController();
    const it = Locker.ref("w-2").reactively(ac.signal).get(ann)[Symbol.asyncIterator]();
    try {
      expect((await within(it.next(), 20_000, "the first item")).value).toMatchObject({ owner: "ann" });
      await Locker.ref("w-2").close(ann);
      expect(await codeOf(within(it.next(), 20_000, "the watch to see the deletion"))).toBe(Code.NotFound);
    } finally {
      ac.abort();
    }
  });

  it("refuses a caller the authorizer refuses, and deletes nothing", async () => {
    const { waiting } = await furnished("w-3");
    expect(await codeOf(Locker.ref("w-3").close(bob))).toBe(Code.PermissionDenied);
    expect(await Locker.ref("w-3").get(bob)).toMatchObject({ owner: "ann", touches: 1n });
    expect((await tasks.get({ taskId: waiting.taskId })).status).toBe(TaskStatus.RUNNING);
    expect((await schedules.list({ actorId: "w-3" })).schedules).toHaveLength(1);
  });

  it("is refused inside a transaction (ContextMisuse), and nothing is deleted", async () => {
    await Locker.ref("w-5").open(ann, { owner: "ann" });
    await Locker.ref("w-6").open(ann, { owner: "ann" });
    const refused = await rejectionOf(Locker.ref("w-5").closeOther(ann, { other: "w-6" }));
    expect(String(refused)).toContain("may not delete its actor inside a transaction");
    expect(await Locker.ref("w-6").get(ann)).toMatchObject({ owner: "ann", touches: 0n });
  });

  it("is durable: after a restart the actor, its tasks and schedules are still gone", async () => {
    const { waiting, later } = await furnished("w-4");
    await Locker.ref("w-4").close(ann);
    await app.restart();
    ann = app.context({ bearerToken: tokenOf("ann") });
    bob = app.context({ bearerToken: tokenOf("bob") });
    tasks = tasksClient(app.url);
    schedules = createClient(Schedules, bearerTransport(app.url, PROBE_ADMIN_TOKEN));
    await gone("w-4", [waiting.taskId, later.taskId]);
  });
});

describe("operators delete actors", () => {
  it("Actors.Delete deletes as the writer would and says what went with it; then NOT_FOUND", async () => {
    const { waiting, later, scheduleIds } = await furnished("op-1");
    const deleted = await actorsAs(PROBE_ADMIN_TOKEN).delete({ stateType: LOCKER, actorId: "op-1" });
    expect([...deleted.cancelledTaskIds].sort()).toEqual([waiting.taskId, later.taskId].sort());
    expect(deleted.deletedScheduleIds).toEqual(scheduleIds);
    await gone("op-1", [waiting.taskId, later.taskId]);
    const again = actorsAs(PROBE_ADMIN_TOKEN).delete({ stateType: LOCKER, actorId: "op-1" });
    expect(await codeOf(again)).toBe(Code.NotFound);
    expect(await codeOf(actorsAs(PROBE_ADMIN_TOKEN).delete({ stateType: "probe.v1.Nope", actorId: "op-1" }))).toBe(Code.NotFound);
  });

  it("refuses callers without an operator token, and deletes nothing", async () => {
    const { waiting } = await furnished("op-2");
    expect(await codeOf(actorsAs(null).delete({ stateType: LOCKER, actorId: "op-2" }))).toBe(Code.Unauthenticated);
    expect(await codeOf(actorsAs(tokenOf("ann")).delete({ stateType: LOCKER, actorId: "op-2" }))).toBe(Code.PermissionDenied);
    expect(await Locker.ref("op-2").get(ann)).toMatchObject({ owner: "ann", touches: 1n });
    expect((await tasks.get({ taskId: waiting.taskId })).status).toBe(TaskStatus.RUNNING);
    expect((await schedules.list({ actorId: "op-2" })).schedules).toHaveLength(1);
  });

  it(
    "cairn actors delete TYPE ID deletes and says what went; a second one exits 1",
    async () => {
      const { waiting, later } = await furnished("cli-1");
      const env = { CAIRN_URL: app.url, CAIRN_TOKEN: PROBE_ADMIN_TOKEN };
      const first = await runCli(["actors", "delete", LOCKER, "cli-1"], { env });
      expect(first.stderr).toBe("");
      expect(first.code).toBe(0);
      expect(first.stdout).toContain(`deleted ${LOCKER} "cli-1" (cancelled tasks`);
      await gone("cli-1", [waiting.taskId, later.taskId]);
      const second = await runCli(["actors", "delete", LOCKER, "cli-1"], { env });
      expect(second.code).toBe(1);
      expect(second.stderr).toContain("does not exist");
    },
    CLI_TEST_TIMEOUT_MS,
  );
});
