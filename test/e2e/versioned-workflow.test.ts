// A deploy that changes a workflow while instances of it are in flight
// (README, "Changing a workflow"): a server process on the old code
// (test/fixtures/checkout-v1.ts) leaves an instance waiting in `until`
// after a recorded step; it is SIGKILLed and a server on the new code
// (checkout-v2.ts, the step behind `patched`) opens the same data dir.
// The old instance keeps its old step, a new one takes the new step, and
// both answers survive another restart.
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it, vi } from "vitest";
import { Task } from "@cairn-dev/cairn";
import { Probe, ProbeSpec } from "../../generated/probe/v1/probe_cairn.js";
import type { RunResponse } from "../../generated/probe/v1/probe_pb.js";
import { tasksClient } from "../fixtures/tasks-client.js";
import { waitFor } from "../fixtures/waiting.js";
import { freePort, killHard, ServerProcesses } from "./helpers.js";

// Server processes with both cores busy: deadlines bound hangs, they never decide a passing test.
vi.setConfig({ testTimeout: 480_000, hookTimeout: 240_000 });

const OLD_CODE = fileURLToPath(new URL("../fixtures/checkout-v1.ts", import.meta.url));
const NEW_CODE = fileURLToPath(new URL("../fixtures/checkout-v2.ts", import.meta.url));
const PATIENCE_MS = 120_000;

describe("a workflow changed under in-flight instances", () => {
  const processes = new ServerProcesses();

  afterAll(() => processes.close());

  it("old instances take the old branch, new ones the new branch, across restarts; tasks show their code version", async () => {
    const dataDir = await processes.tempDataDir("cairn-versioned-");
    const port = await freePort();
    // The new code's version comes from the environment; the old code's option wins over it.
    process.env.CAIRN_CODE_VERSION = "v2";
    const start = async (script: string) => {
      const server = await processes.spawn({ dataDir, port, script });
      return { server, ctx: processes.connect(server.url, { timeoutMs: 60_000 }), tasks: tasksClient(server.url) };
    };
    const logOf = async (ctx: ReturnType<ServerProcesses["connect"]>, id: string) => (await Probe.ref(id).get(ctx)).log;
    /** Waits until the instance on `id` has made its durable mark (and so recorded its pricing step). */
    const reached = (ctx: ReturnType<ServerProcesses["connect"]>, id: string) =>
      waitFor(async () => {
        const log = await logOf(ctx, id);
        return log.length > 0 && log;
      }, `the checkout on ${id} to reach its wait`, PATIENCE_MS);

    const old = await start(OLD_CODE);
    const before = Probe.ref("old-1").spawn().run(old.ctx, { scenario: "checkout" });
    await before.started;
    expect(await reached(old.ctx, "old-1")).toEqual(["reached v1"]);
    const killed = await killHard(old.server);
    expect(killed.signal).toBe("SIGKILL");

    const deployed = await start(NEW_CODE);
    const after = Probe.ref("new-1").spawn().run(deployed.ctx, { scenario: "checkout" });
    await after.started;
    expect(await reached(deployed.ctx, "new-1")).toEqual(["reached v2"]);
    // The old instance re-ran on the new code after the restart: it is still waiting, on its old step.
    expect(await logOf(deployed.ctx, "old-1")).toEqual(["reached v1"]);
    expect((await deployed.tasks.get({ taskId: before.taskId })).codeVersion).toBe("v1");
    expect((await deployed.tasks.get({ taskId: after.taskId })).codeVersion).toBe("v2");
    await killHard(deployed.server);

    // Another restart: every run answers `patched` as the first one did.
    const again = await start(NEW_CODE);
    await Probe.ref("old-1").setFlag(again.ctx, { flag: true });
    await Probe.ref("new-1").setFlag(again.ctx, { flag: true });
    const outcome = (taskId: string) => new Task<RunResponse>(taskId, again.ctx, ProbeSpec.methods.run!);
    expect((await outcome(before.taskId)).result).toBe("done v1");
    expect((await outcome(after.taskId)).result).toBe("done v2");
    // Each mark was made once: the old instance never ran the new step, nor the new one the old.
    expect(await logOf(again.ctx, "old-1")).toEqual(["reached v1"]);
    expect(await logOf(again.ctx, "new-1")).toEqual(["reached v2"]);
    delete process.env.CAIRN_CODE_VERSION;
  });
});
