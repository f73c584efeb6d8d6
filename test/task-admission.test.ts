// The dispatcher's bound on runs in progress (Application maxRunningTasks):
// due tasks beyond it queue and start as runs finish; a workflow awaiting a
// child task gives up its slot, so parents cannot starve their children.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { atLeastOnce, type ExternalContext } from "@cairn-dev/cairn";
import type { TestApplication } from "@cairn-dev/cairn/testing";
import { Probe } from "../generated/probe/v1/probe_cairn.js";
import { startProbeApp } from "./fixtures/probe-app.js";
import { defineScenario } from "./fixtures/probe-servicer.js";
import { eventually, within } from "./fixtures/waiting.js";

let running = 0;
let mostRunning = 0;
const gates: Array<() => void> = [];

// Holds its run until the test opens a gate.
defineScenario("admHold", async (ctx) => {
  await atLeastOnce("hold", ctx, async () => {
    running++;
    mostRunning = Math.max(mostRunning, running);
    await new Promise<void>((resolve) => gates.push(resolve));
    running--;
  });
  return { result: "held" };
});

// Spawns a child workflow and awaits it.
defineScenario("admParent", async (ctx) => {
  const child = await Probe.ref(`${ctx.actorId}-child`).idempotently("child").run(ctx, { scenario: "admChild" });
  return { result: `parent of ${child.result}` };
});
defineScenario("admChild", async () => ({ result: "child" }));

let app: TestApplication;
let ctx: ExternalContext;

beforeAll(async () => {
  ({ app, ctx } = await startProbeApp({ maxRunningTasks: 2 }));
});
afterAll(() => app?.stop());

describe("maxRunningTasks", () => {
  it("runs at most the bound at once; the rest start as slots free up, and all complete", async () => {
    const tasks = [0, 1, 2, 3, 4].map((i) => Probe.ref(`adm-${i}`).spawn().run(ctx, { scenario: "admHold" }));
    await Promise.all(tasks.map((t) => t.started));
    await eventually(() => running === 2, "two runs holding their slots");
    expect(running).toBe(2);
    // Open gates one by one: each freed slot admits one queued task, which
    // reaches its own gate in its own time. While two runs hold their slots,
    // a third one started would show in mostRunning.
    for (let opened = 0; opened < tasks.length; opened++) {
      await eventually(() => gates.length > 0, `run ${opened + 1} at its gate`);
      gates.shift()!();
    }
    for (const t of tasks) expect((await within(t)).result).toBe("held");
    expect(mostRunning).toBe(2);
  });

  it("a parent awaiting its child gives up its slot: two parents with a bound of two do not deadlock", async () => {
    const parents = [0, 1].map((i) => Probe.ref(`adm-parent-${i}`).spawn().run(ctx, { scenario: "admParent" }));
    for (const p of parents) expect((await within(p, undefined, "the parent")).result).toBe("parent of child");
  });
});
