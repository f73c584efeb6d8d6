// `patched(id, ctx)` in process (README, "Changing a workflow while
// instances are in flight"): the scenario's code is switched from old to new
// while an instance waits, as a deploy would. An instance whose earlier run
// recorded a step beyond the patch takes the old branch; a new instance, and
// a new Loop iteration, take the new one; each answer is stored, so re-runs
// (which meet the new step's memo after the patch) answer the same.
// test/e2e/versioned-workflow.test.ts does the same across real processes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Loop, Task, atLeastOnce, patched, until, type ExternalContext } from "@cairn-dev/cairn";
import type { TestApplication } from "@cairn-dev/cairn/testing";
import type { Client } from "@connectrpc/connect";
import type { Tasks } from "../generated/cairn/v1/tasks_pb.js";
import { Probe, ProbeSpec } from "../generated/probe/v1/probe_cairn.js";
import type { RunResponse } from "../generated/probe/v1/probe_pb.js";
import { FAST_RETRY, startProbeApp } from "./fixtures/probe-app.js";
import { defineScenario } from "./fixtures/probe-servicer.js";
import { taskWhen } from "./fixtures/tasks-client.js";
import { within } from "./fixtures/waiting.js";

let newCode = false;
/** Per actor: what `patched` answered in each run, as "iteration:first,second". */
const answers = new Map<string, string[]>();

defineScenario("evolving", async (ctx, req, self) => {
  const go = () => until("go", ctx, async () => (await self.state.read(ctx)).flag);
  if (!newCode) {
    await atLeastOnce("price", ctx, () => "v1");
    await go();
    return { result: "old" };
  }
  const first = await patched("price-v2", ctx);
  const second = await patched("price-v2", ctx);
  answers.set(ctx.actorId, [...(answers.get(ctx.actorId) ?? []), `${ctx.iteration}:${first},${second}`]);
  const price = first ? await atLeastOnce("price-v2", ctx, () => "v2") : await atLeastOnce("price", ctx, () => "v1");
  // With n > 0, iteration 0 loops once.
  if (ctx.iteration === 0 && req.n > 0n) return new Loop();
  await go();
  return { result: `${price} at iteration ${ctx.iteration}` };
});

let app: TestApplication;
let ctx: ExternalContext;
let tasks: Client<typeof Tasks>;
beforeAll(async () => {
  ({ app, ctx, tasks } = await startProbeApp({ retry: FAST_RETRY }));
});
afterAll(() => app?.stop());

const outcome = (taskId: string) => within(new Task<RunResponse>(taskId, ctx, ProbeSpec.methods.run!), 60_000, `task ${taskId}`);

describe("patched", () => {
  it("old instances take the old branch until their next Loop iteration, new ones the new branch; re-runs answer as the first run did", async () => {
    const old = Probe.ref("pt-old").spawn().run(ctx, { scenario: "evolving", n: 1n });
    await old.started;
    await taskWhen(tasks, old.taskId, (t) => t.history.some((e) => e.detail === 'atLeastOnce "price" stored'), "the old instance to price");

    newCode = true; // the deploy
    // Wake the old instance without letting it through its wait: it re-runs on the new code.
    await Probe.ref("pt-old").add(ctx, { amount: 1n });
    await taskWhen(tasks, old.taskId, (t) => t.iteration === 1 && t.history.some((e) => e.detail === 'atLeastOnce "price-v2" stored'), "the old instance's next iteration to price");
    const fresh = Probe.ref("pt-new").spawn().run(ctx, { scenario: "evolving" });
    await fresh.started;
    await taskWhen(tasks, fresh.taskId, (t) => t.history.some((e) => e.detail === 'atLeastOnce "price-v2" stored'), "the new instance to price");

    await Probe.ref("pt-old").setFlag(ctx, { flag: true });
    await Probe.ref("pt-new").setFlag(ctx, { flag: true });
    expect((await outcome(old.taskId)).result).toBe("v2 at iteration 1");
    expect((await outcome(fresh.taskId)).result).toBe("v2 at iteration 0");
    // Iteration 0 of the old instance said false (it had priced on the old code), iteration 1 true;
    // every run answered as its iteration's first did, twice in a run alike.
    expect(answers.get("pt-old")![0]).toBe("0:false,false");
    expect(new Set(answers.get("pt-old")!.slice(1))).toEqual(new Set(["1:true,true"]));
    expect(new Set(answers.get("pt-new"))).toEqual(new Set(["0:true,true"]));
    // The new instance ran more than once: its later runs met the new step's memo before the patch.
    expect(answers.get("pt-new")!.length).toBeGreaterThan(1);
    const history = (await tasks.get({ taskId: old.taskId })).history.map((e) => e.detail);
    expect(history).toContain('patched "price-v2" stored');
  });
});
