// A call its context may not make (DESIGN.md §2, "which context may call
// what") is a bug in the code, not a passing failure: a task that makes one,
// in the workflow itself or in a handler it calls, ends FAILED at once with
// the rule in its lastError, like the missing idempotency key does, instead
// of being retried with backoff without end.
import type { Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { atLeastOnce, Code, ConnectError, ContextMisuse, type ReaderContext, type Task, type WorkflowContext, type WriterContext } from "@cairn-dev/cairn";
import type { TestApplication } from "@cairn-dev/cairn/testing";
import { TaskStatus, type TaskInfo, type Tasks } from "../generated/cairn/v1/tasks_pb.js";
import { Probe } from "../generated/probe/v1/probe_cairn.js";
import type { AddRequest, GetRequest, SetFlagRequest } from "../generated/probe/v1/probe_pb.js";
import { ProbeServicerImpl, defineScenario } from "./fixtures/probe-servicer.js";
import { startProbeApp } from "./fixtures/probe-app.js";
import { rejectionOf } from "./fixtures/waiting.js";

/** Runs per task, counted where the misuse is made. */
const runs = new Map<string, number>();
const bump = (name: string) => runs.set(name, (runs.get(name) ?? 0) + 1);

/** Handlers that break the rules when their actor id asks them to. */
class MisusingProbe extends ProbeServicerImpl {
  override async get(ctx: ReaderContext, state: Readonly<Probe>, req: GetRequest) {
    if (ctx.actorId.startsWith("reader-calls-writer")) {
      bump(ctx.actorId);
      // @ts-expect-error refused at compile time too (test/types/context-misuse.ts); here the run-time refusal
      await Probe.ref("victim").unidempotently().add(ctx, { amount: 1n });
    }
    return super.get(ctx, state, req);
  }

  override async add(ctx: WriterContext, state: Probe, req: AddRequest) {
    if (ctx.actorId.startsWith("writer-spawns")) {
      bump(ctx.actorId);
      // @ts-expect-error refused at compile time too; here the run-time refusal
      await Probe.ref("victim").spawn().run(ctx, { scenario: "noop" });
    }
    if (ctx.actorId.startsWith("writer-calls-writer")) {
      bump(ctx.actorId);
      // @ts-expect-error refused at compile time too; here the run-time refusal
      await Probe.ref("victim").unidempotently().add(ctx, { amount: 1n });
    }
    return super.add(ctx, state, req);
  }

  override async setFlag(ctx: WriterContext, state: Probe, req: SetFlagRequest) {
    if (ctx.actorId.startsWith("writer-steps")) {
      bump(ctx.actorId);
      await atLeastOnce("s", ctx as unknown as WorkflowContext, () => 1);
    }
    return super.setFlag(ctx, state, req);
  }
}

defineScenario("noop", async () => ({}));

defineScenario("scheduleFromWorkflow", async (ctx) => {
  bump(ctx.actorId);
  // @ts-expect-error refused at compile time too; here the run-time refusal
  Probe.ref("victim").schedule({ when: Date.now() }).add(ctx, { amount: 1n });
  return {};
});

defineScenario("cronSpawnFromWorkflow", async (ctx) => {
  bump(ctx.actorId);
  Probe.ref("victim").spawn({ cron: "0 9 * * MON" }).run(ctx, { scenario: "noop" });
  return {};
});

defineScenario("callsMisusingReader", async (ctx, req) => {
  bump(ctx.actorId);
  await Probe.ref(req.target).get(ctx);
  return {};
});

defineScenario("callsMisusingWriter", async (ctx, req) => {
  bump(ctx.actorId);
  await Probe.ref(req.target).idempotently("w").add(ctx, { amount: 1n });
  return {};
});

defineScenario("callsStepInWriter", async (ctx, req) => {
  bump(ctx.actorId);
  await Probe.ref(req.target).idempotently("w").setFlag(ctx, { flag: true });
  return {};
});

let app: TestApplication;
let tasks: Client<typeof Tasks>;

beforeAll(async () => {
  // A short backoff: were misuse retried, it would be retried many times.
  ({ app, tasks } = await startProbeApp({ servicers: [MisusingProbe], retry: { initialMs: 10, multiplier: 1, maxMs: 10 } }));
});
afterAll(() => app?.stop());

/** Awaits the task's rejection, then its record: FAILED with the rule named. */
async function failed(task: Task): Promise<TaskInfo> {
  const err = await rejectionOf(task);
  expect(ConnectError.from(err).code).toBe(Code.Internal);
  const info = await tasks.get({ taskId: task.taskId });
  expect(info.status).toBe(TaskStatus.FAILED);
  return info;
}

describe("misuse inside a task ends it FAILED at once", () => {
  it("ref.schedule() in a workflow", async () => {
    const ctx = app.context();
    const info = await failed(Probe.ref("wf-schedules").spawn().run(ctx, { scenario: "scheduleFromWorkflow" }));
    expect(info.lastError).toContain("ContextMisuse: a workflow may not call .schedule()");
    expect(info.lastError).toContain(".spawn({ when })");
    expect(runs.get("wf-schedules")).toBe(1);
  });

  it("spawn({ cron }) in a workflow", async () => {
    const ctx = app.context();
    const info = await failed(Probe.ref("wf-cron").spawn().run(ctx, { scenario: "cronSpawnFromWorkflow" }));
    expect(info.lastError).toContain("cron schedules are made with ref.schedule({ cron }) from a writer or transaction");
    expect(runs.get("wf-cron")).toBe(1);
  });

  it("a reader the workflow calls calls a writer", async () => {
    const ctx = app.context();
    const info = await failed(Probe.ref("wf-reader").spawn().run(ctx, { scenario: "callsMisusingReader", target: "reader-calls-writer-1" }));
    expect(info.lastError).toContain("may not call the writer probe.v1.Probe.add; readers may call: reader");
    expect(runs.get("wf-reader")).toBe(1);
    expect(runs.get("reader-calls-writer-1")).toBe(1);
  });

  it("a writer the workflow calls spawns a workflow", async () => {
    const ctx = app.context();
    const info = await failed(Probe.ref("wf-writer-spawn").spawn().run(ctx, { scenario: "callsMisusingWriter", target: "writer-spawns-1" }));
    expect(info.lastError).toContain("a writer may not spawn run; use .schedule() from a writer");
    expect(runs.get("wf-writer-spawn")).toBe(1);
    expect(runs.get("writer-spawns-1")).toBe(1);
    expect((await Probe.ref("writer-spawns-1").get(ctx)).counter).toBe(0n); // nothing of the writer was kept
  });

  it("a writer the workflow calls calls a writer", async () => {
    const ctx = app.context();
    const info = await failed(Probe.ref("wf-writer-writer").spawn().run(ctx, { scenario: "callsMisusingWriter", target: "writer-calls-writer-1" }));
    expect(info.lastError).toContain("may not call the writer probe.v1.Probe.add; writers may call: reader");
    expect(runs.get("wf-writer-writer")).toBe(1);
    expect(runs.get("writer-calls-writer-1")).toBe(1);
  });

  it("a writer the workflow calls uses a workflow step", async () => {
    const ctx = app.context();
    const info = await failed(Probe.ref("wf-writer-step").spawn().run(ctx, { scenario: "callsStepInWriter", target: "writer-steps-1" }));
    expect(info.lastError).toContain("atLeastOnce may only be called with the context of a running workflow");
    expect(runs.get("wf-writer-step")).toBe(1);
  });

  it("a writer run as a task calls a writer", async () => {
    const ctx = app.context();
    const info = await failed(Probe.ref("writer-calls-writer-task").spawn().add(ctx, { amount: 1n }));
    expect(info.lastError).toContain("writers may call: reader");
    expect(runs.get("writer-calls-writer-task")).toBe(1);
  });

  it("the missing idempotency key is the same kind of error", async () => {
    const ctx = app.context();
    defineScenario("noKey", async (c) => {
      bump(c.actorId);
      await Probe.ref("victim").add(c, { amount: 1n });
      return {};
    });
    const info = await failed(Probe.ref("wf-no-key").spawn().run(ctx, { scenario: "noKey" }));
    expect(info.lastError).toMatch(/^ContextMisuse: .*\.idempotently\(alias\?\)/);
    expect(runs.get("wf-no-key")).toBe(1);
  });

  it("an external caller still gets INTERNAL naming the rule", async () => {
    const ctx = app.context();
    const err = ConnectError.from(await rejectionOf(Probe.ref("writer-calls-writer-ext").add(ctx, { amount: 1n })));
    expect(err.code).toBe(Code.Internal);
    expect(err.rawMessage).toContain("writers may call: reader");
    expect(new ContextMisuse("x")).toBeInstanceOf(Error);
  });
});
