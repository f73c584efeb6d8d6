// Step retry policy (DESIGN.md §5, "Beyond the reference"): atLeastOnce
// with { retry, timeoutMs } retries the step in place with backoff;
// RetryableError sets the delay; FatalError and exhaustion end the task
// FAILED with the error in last_error.
import type { Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FatalError, RetryableError, atLeastOnce, type ExternalContext } from "@cairn-dev/cairn";
import { TestApplication } from "@cairn-dev/cairn/testing";
import { TaskStatus, type TaskInfo, type Tasks } from "../generated/cairn/v1/tasks_pb.js";
import { Probe } from "../generated/probe/v1/probe_cairn.js";
import { FAST_RETRY, startProbeApp } from "./fixtures/probe-app.js";
import { ProbeServicerImpl, defineScenario } from "./fixtures/probe-servicer.js";


/** Per-actor times of each attempt and of each workflow run. */
const attempts = new Map<string, number[]>();
const note = (name: string) => {
  const list = attempts.get(name) ?? [];
  list.push(performance.now());
  attempts.set(name, list);
  return list.length;
};
const timesOf = (name: string) => attempts.get(name) ?? [];
const gapsOf = (name: string) => timesOf(name).slice(1).map((t, i) => t - timesOf(name)[i]!);

const POLICY = { maxAttempts: 5, initialMs: 50, multiplier: 2, maxMs: 1_000 };

// Fails twice, then answers: three attempts in one run.
defineScenario("flakyStep", async (ctx) => {
  note(`run:${ctx.actorId}`);
  const n = await atLeastOnce(
    "call",
    ctx,
    () => {
      const n = note(`call:${ctx.actorId}`);
      if (n < 3) throw new Error(`attempt ${n} failed`);
      return n;
    },
    { retry: POLICY },
  );
  // A failure after the step: the retried run must not call it again.
  if (note(`after:${ctx.actorId}`) === 1) throw new Error("fail the run once after the step");
  return { result: "ok", value: BigInt(n) };
});

defineScenario("retryAfter", async (ctx) => {
  await atLeastOnce(
    "call",
    ctx,
    () => {
      if (note(`call:${ctx.actorId}`) === 1) throw new RetryableError("come back later", { retryAfterMs: 300 });
      return true;
    },
    { retry: { ...POLICY, initialMs: 10 } },
  );
  return { result: "ok" };
});

defineScenario("fatalStep", async (ctx) => {
  note(`run:${ctx.actorId}`);
  await atLeastOnce(
    "call",
    ctx,
    () => {
      note(`call:${ctx.actorId}`);
      throw new FatalError("the card is stolen");
    },
    { retry: POLICY },
  );
  return { result: "should not get here" };
});

defineScenario("exhausted", async (ctx) => {
  note(`run:${ctx.actorId}`);
  await atLeastOnce(
    "charge",
    ctx,
    () => {
      throw new Error(`attempt ${note(`call:${ctx.actorId}`)} failed`);
    },
    { retry: { maxAttempts: 3, initialMs: 10 } },
  );
  return { result: "should not get here" };
});

// The first attempt hangs past its timeout (and is told so); the second answers.
const abortedFirst = new Set<string>();
defineScenario("slowStep", async (ctx) => {
  const n = await atLeastOnce(
    "call",
    ctx,
    async ({ signal, attempt }) => {
      note(`call:${ctx.actorId}`);
      if (attempt === 1) {
        await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
        abortedFirst.add(ctx.actorId);
        return -1;
      }
      return attempt;
    },
    { retry: { maxAttempts: 2, initialMs: 10 }, timeoutMs: 100 },
  );
  return { result: "ok", value: BigInt(n) };
});

defineScenario("badPolicy", async (ctx) => {
  await atLeastOnce("call", ctx, () => note(`call:${ctx.actorId}`), { retry: { maxAttempts: 0 } });
  return { result: "should not get here" };
});

let app: TestApplication;
let ctx: ExternalContext;
let tasks: Client<typeof Tasks>;

beforeAll(async () => {
  ({ app, ctx, tasks } = await startProbeApp({ retry: FAST_RETRY, tasksToken: null }));
});
afterAll(() => app?.stop());

const waitInfo = (taskId: string): Promise<TaskInfo> => tasks.wait({ taskId });

describe("atLeastOnce retry policy", () => {
  it("retries in place with growing backoff; the result is memoized", async () => {
    const res = await Probe.ref("flaky").run(ctx, { scenario: "flakyStep" });
    expect(res.value).toBe(3n);
    expect(timesOf("call:flaky")).toHaveLength(3);
    // Both attempts in the first run; the second run found the memo.
    expect(timesOf("run:flaky")).toHaveLength(2);
    const [g1, g2] = gapsOf("call:flaky");
    expect(g1!).toBeGreaterThanOrEqual(0.7 * 50);
    expect(g2!).toBeGreaterThanOrEqual(0.7 * 100);
    expect(g2!).toBeGreaterThan(g1!);
  });

  it("each failed attempt is in the task's history, with its reason", async () => {
    const task = Probe.ref("flaky-history").spawn().run(ctx, { scenario: "flakyStep" });
    await task;
    const info = await tasks.get({ taskId: task.taskId });
    const retried = info.history.filter((e) => e.kind === "retried" && e.detail.startsWith("atLeastOnce"));
    expect(retried.map((e) => e.detail)).toEqual([
      expect.stringMatching(/^atLeastOnce "call" attempt 1 failed \(Error: attempt 1 failed\), next in \d+ ms$/),
      expect.stringMatching(/^atLeastOnce "call" attempt 2 failed \(Error: attempt 2 failed\), next in \d+ ms$/),
    ]);
  });

  it("a RetryableError's retryAfterMs sets the delay", async () => {
    await Probe.ref("later").run(ctx, { scenario: "retryAfter" });
    expect(timesOf("call:later")).toHaveLength(2);
    expect(gapsOf("call:later")[0]!).toBeGreaterThanOrEqual(295);
  });

  it("a FatalError is not retried: the task ends FAILED with the error", async () => {
    const task = Probe.ref("fatal").spawn().run(ctx, { scenario: "fatalStep" });
    await expect(task).rejects.toThrow();
    const info = await waitInfo(task.taskId);
    expect(info.status).toBe(TaskStatus.FAILED);
    expect(info.lastError).toContain("the card is stolen");
    expect(timesOf("call:fatal")).toHaveLength(1);
    expect(timesOf("run:fatal")).toHaveLength(1);
  });

  it("exhausting maxAttempts ends the task FAILED, naming the step and attempts", async () => {
    const task = Probe.ref("spent").spawn().run(ctx, { scenario: "exhausted" });
    await expect(task).rejects.toThrow();
    const info = await waitInfo(task.taskId);
    expect(info.status).toBe(TaskStatus.FAILED);
    expect(info.lastError).toContain('StepRetriesExhausted: step "charge" failed after 3 attempts');
    expect(info.lastError).toContain("attempt 3 failed");
    expect(timesOf("call:spent")).toHaveLength(3);
    expect(timesOf("run:spent")).toHaveLength(1);
    // The same run again, start to FAILED, spans all its backoffs: a stray
    // fourth attempt of the first would have come by the time it ends.
    await expect(Probe.ref("spent-again").spawn().run(ctx, { scenario: "exhausted" })).rejects.toThrow();
    expect(timesOf("call:spent-again")).toHaveLength(3);
    expect(timesOf("call:spent")).toHaveLength(3);
  });

  it("timeoutMs bounds each attempt: a slow attempt fails, its signal fires, the next one counts", async () => {
    const start = performance.now();
    const res = await Probe.ref("slow").run(ctx, { scenario: "slowStep" });
    expect(res.value).toBe(2n);
    expect(performance.now() - start).toBeGreaterThanOrEqual(100);
    expect(abortedFirst.has("slow")).toBe(true);
    expect(timesOf("call:slow")).toHaveLength(2);
  });

  it("a nonsensical policy fails the task without calling fn", async () => {
    const task = Probe.ref("badPolicy").spawn().run(ctx, { scenario: "badPolicy" });
    await expect(task).rejects.toThrow();
    const info = await waitInfo(task.taskId);
    expect(info.status).toBe(TaskStatus.FAILED);
    expect(info.lastError).toContain("retry.maxAttempts must be a whole number >= 1, not 0");
    expect(timesOf("call:badPolicy")).toHaveLength(0);
  });
});

describe("the application's retry policies", () => {
  it("refuse a bad field at start, for the application and per servicer method", async () => {
    await expect(startProbeApp({ retry: { initialMs: -1 } })).rejects.toThrow("retry.initialMs must be a finite number >= 0, not -1");
    class BadRetry extends ProbeServicerImpl {
      static override readonly retry = { run: { maxMs: Number.NaN } };
    }
    await expect(TestApplication.start({ servicers: [BadRetry] })).rejects.toThrow("retry.run.maxMs must be a finite number >= 0, not NaN");
  });
});
