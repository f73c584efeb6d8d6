// A workflow awaiting a child that ended FAILED or CANCELLED fails too, at
// once: the child's end never changes, so retrying the parent would wait
// into the same answer forever.
import type { Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FatalError, until, type ExternalContext } from "@cairn-dev/cairn";
import type { TestApplication } from "@cairn-dev/cairn/testing";
import { TaskStatus, type Tasks } from "../generated/cairn/v1/tasks_pb.js";
import { Probe } from "../generated/probe/v1/probe_cairn.js";
import { probeTokens, startProbeApp } from "./fixtures/probe-app.js";
import { defineScenario } from "./fixtures/probe-servicer.js";
import { taskInStatus } from "./fixtures/tasks-client.js";
import { eventually } from "./fixtures/waiting.js";

const runs = new Map<string, number>();
const bump = (id: string) => runs.set(id, (runs.get(id) ?? 0) + 1);

defineScenario("coFails", async () => {
  throw new FatalError("the child cannot go on");
});
defineScenario("coWaits", async (ctx, _req, self) => {
  await until("never", ctx, async () => (await self.state.read(ctx)).flag);
  return { result: "flag" };
});
defineScenario("coParent", async (ctx, req) => {
  bump(ctx.actorId);
  const child = await Probe.ref(`${ctx.actorId}-child`).idempotently("child").run(ctx, { scenario: req.target });
  return { result: `child said ${child.result}` };
});

let app: TestApplication;
let ctx: ExternalContext;
let tasks: Client<typeof Tasks>;
beforeAll(async () => {
  ({ app, ctx, tasks } = await startProbeApp({ tokenVerifier: probeTokens(), retry: { initialMs: 10, maxMs: 20 } }));
});
afterAll(() => app?.stop());

describe("a workflow awaiting a child", () => {
  it("fails once when the child FAILED, naming the child", async () => {
    const parent = Probe.ref("co-a").spawn().run(ctx, { scenario: "coParent", target: "coFails" });
    await parent.started;
    const info = await taskInStatus(tasks, parent.taskId, TaskStatus.FAILED, "the parent FAILED");
    expect(info.lastError).toMatch(/ended FAILED: .*the child cannot go on/);
    expect(runs.get("co-a")).toBe(1);
  });

  it("fails once when the child is CANCELLED", async () => {
    const parent = Probe.ref("co-b").spawn().run(ctx, { scenario: "coParent", target: "coWaits" });
    await parent.started;
    let childId = "";
    await eventually(async () => {
      const { tasks: list } = await tasks.list({ actorId: "co-b-child" });
      childId = list[0]?.taskId ?? "";
      return childId !== "" && app.stats.waitingCallers > 0;
    }, 10_000, "the parent waiting for its child");
    await tasks.cancel({ taskId: childId });
    const info = await taskInStatus(tasks, parent.taskId, TaskStatus.FAILED, "the parent FAILED");
    expect(info.lastError).toMatch(/ended CANCELLED/);
    expect(runs.get("co-b")).toBe(1);
  });
});
