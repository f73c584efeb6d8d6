// Remote jobs (DESIGN.md §5, "Beyond the reference"): awaitRemote starts a
// job at most once, then checks it at growing intervals, suspended between
// checks, until it is done; FatalError fails the task, other errors are
// retried; durable across restarts; Tasks.get shows RUNNING with the status
// input meanwhile. The remote side is a real HTTP job API on 127.0.0.1.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { awaitRemote, done, FatalError, running, type ExternalContext } from "@cairn-dev/cairn";
import type { TestApplication } from "@cairn-dev/cairn/testing";
import { TaskStatus, type TaskInfo, type Tasks } from "../generated/cairn/v1/tasks_pb.js";
import { Probe } from "../generated/probe/v1/probe_cairn.js";
import { FAST_RETRY, probeTokens, startProbeApp } from "./fixtures/probe-app.js";
import { defineScenario } from "./fixtures/probe-servicer.js";
import { tasksClient } from "./fixtures/tasks-client.js";
import { waitFor } from "./fixtures/waiting.js";

const eventually = <T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>): Promise<T> => waitFor(check, what);

// awaitRemote's waits run on real time (not the app's virtual clock), so a
// state a test must observe between two checks gets a wait long enough that
// a loaded machine's polling does not miss it: WINDOW_MS.
const WINDOW_MS = 2_000;

// ---- the fake job API ---------------------------------------------------------

/** How the job of one actor behaves; set by each test before it spawns. */
interface JobConfig {
  /** Answered checks until the job ends. */
  checks: number;
  /** End as failed rather than done. */
  fail?: boolean;
  /** GET numbers (1-based) answered 503, not counted as checks. */
  flaky?: number[];
  /** awaitRemote's backoff. */
  initialMs: number;
  maxMs?: number;
  /** start() posts the job, then hangs until the application stops. */
  hangInStart?: boolean;
}

interface Job {
  readonly id: string;
  readonly config: JobConfig;
  answered: number;
  /** Time and cursor of every GET, failed ones included. */
  readonly gets: Array<{ at: number; cursor: number }>;
}

type JobStatus = { state: "running"; cursor: number } | { state: "done"; result: string } | { state: "failed"; error: string };

const configs = new Map<string, JobConfig>();
const jobs = new Map<string, Job>();
const starts = new Map<string, number>();
let api: Server;
let apiUrl: string;

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  let text = "";
  for await (const chunk of req) text += String(chunk);
  return text;
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  if (req.method === "POST" && url.pathname === "/jobs") {
    const { name } = JSON.parse(await readBody(req)) as { name: string };
    const config = configs.get(name);
    if (!config) return send(res, 404, { error: `no config for ${name}` });
    starts.set(name, (starts.get(name) ?? 0) + 1);
    const id = `job-${name}`;
    jobs.set(id, { id, config, answered: 0, gets: [] });
    return send(res, 201, { id });
  }
  const job = req.method === "GET" ? jobs.get(url.pathname.replace(/^\/jobs\//, "")) : undefined;
  if (!job) return send(res, 404, { error: "no such job" });
  job.gets.push({ at: Date.now(), cursor: Number(url.searchParams.get("cursor")) });
  if (job.config.flaky?.includes(job.gets.length)) return send(res, 503, { error: "try later" });
  job.answered++;
  let status: JobStatus;
  if (job.answered < job.config.checks) status = { state: "running", cursor: job.answered };
  else if (job.config.fail) status = { state: "failed", error: "the render farm is on fire" };
  else status = { state: "done", result: `rendered ${job.id}` };
  send(res, 200, status);
}

const getsOf = (name: string) => jobs.get(`job-${name}`)?.gets ?? [];

// ---- the workflow ---------------------------------------------------------------

const runs = new Map<string, number>();
const results = new Map<string, string>();

defineScenario("remote", async (ctx) => {
  runs.set(ctx.actorId, (runs.get(ctx.actorId) ?? 0) + 1);
  const config = configs.get(ctx.actorId)!;
  const result = await awaitRemote("render", ctx, {
    start: async ({ signal }) => {
      const res = await fetch(`${apiUrl}/jobs`, { method: "POST", body: JSON.stringify({ name: ctx.actorId }), signal });
      const { id } = (await res.json()) as { id: string };
      if (config.hangInStart) await new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
      return { id, cursor: 0 };
    },
    check: async (input, { signal }) => {
      const res = await fetch(`${apiUrl}/jobs/${input.id}?cursor=${input.cursor}`, { signal });
      if (!res.ok) throw new Error(`the job API answered ${res.status}`);
      const status = (await res.json()) as JobStatus;
      if (status.state === "failed") throw new FatalError(`job ${input.id} failed: ${status.error}`);
      if (status.state === "done") return done(status.result);
      return running({ id: input.id, cursor: status.cursor });
    },
    backoff: { initialMs: config.initialMs, multiplier: 2, maxMs: config.maxMs ?? 10_000 },
  });
  results.set(ctx.actorId, result);
  return { result };
});

defineScenario("remoteBadBackoff", async (ctx) => {
  await awaitRemote("job", ctx, { start: () => "x", check: () => done(1), backoff: { multiplier: 0.5 } });
  return { result: "should not get here" };
});

// ---- harness ------------------------------------------------------------------

let app: TestApplication;
let ctx: ExternalContext;
let tasks: Client<typeof Tasks>;

// Operator calls (cancel) need an admin token: tasksClient sends one.

beforeAll(async () => {
  api = createServer((req, res) => void handle(req, res).catch((e: unknown) => send(res, 500, { error: String(e) })));
  await new Promise<void>((resolve) => api.listen(0, "127.0.0.1", resolve));
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  ({ app, ctx, tasks } = await startProbeApp({ retry: FAST_RETRY, tokenVerifier: probeTokens() }));
});
afterAll(async () => {
  await app?.stop();
  api?.closeAllConnections();
  await new Promise((resolve) => api?.close(resolve));
});

const waitInfo = (taskId: string): Promise<TaskInfo> => tasks.wait({ taskId });

describe("awaitRemote", () => {
  it("starts once, checks at growing intervals until done, and returns the value", async () => {
    configs.set("grow", { checks: 4, initialMs: 50 });
    const res = await Probe.ref("grow").run(ctx, { scenario: "remote" });
    expect(res.result).toBe("rendered job-grow");
    expect(starts.get("grow")).toBe(1);
    const gets = getsOf("grow");
    expect(gets.length).toBe(4);
    // Each input is the one the previous check returned.
    expect(gets.map((g) => g.cursor)).toEqual([0, 1, 2, 3]);
    const gaps = gets.slice(1).map((g, i) => g.at - gets[i]!.at);
    // Waits of 50, 100, 200 ms: at least that, so growing from 50 to 200. (How
    // much later than that a loaded machine ran them is no part of the claim.)
    gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(50 * 2 ** i));
    // A run per check: nothing waited in memory between them.
    expect(runs.get("grow")).toBe(4);
    // Done is memoized: the task is COMPLETED, so the job is never checked again.
    expect((await waitInfo((await tasks.list({ actorId: "grow" })).tasks[0]!.taskId)).status).toBe(TaskStatus.COMPLETED);
    expect(getsOf("grow").length).toBe(4);
  });

  it("a FatalError from check fails the task with the error recorded; it is not retried", async () => {
    configs.set("fail", { checks: 2, fail: true, initialMs: 20 });
    const task = Probe.ref("fail").spawn().run(ctx, { scenario: "remote" });
    await expect(task).rejects.toThrow(/render farm is on fire/);
    const info = await waitInfo(task.taskId);
    expect(info.status).toBe(TaskStatus.FAILED);
    expect(info.lastError).toContain("FatalError: job job-fail failed: the render farm is on fire");
    expect(info.remoteStatusInput).toBe("");
    // FAILED is final: nothing runs it again.
    expect(getsOf("fail").length).toBe(2);
    expect(starts.get("fail")).toBe(1);
    expect(runs.get("fail")).toBe(2);
  });

  it("retries a check that throws another error, on the same growing schedule", async () => {
    configs.set("flaky", { checks: 2, flaky: [1, 2], initialMs: 30 });
    const task = Probe.ref("flaky").spawn().run(ctx, { scenario: "remote" });
    expect((await task).result).toBe("rendered job-flaky");
    const gets = getsOf("flaky");
    expect(gets.length).toBe(4);
    // The failed checks kept their input; the schedule grew through them.
    expect(gets.map((g) => g.cursor)).toEqual([0, 0, 0, 1]);
    const gaps = gets.slice(1).map((g, i) => g.at - gets[i]!.at);
    gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(30 * 2 ** i));
    const info = await waitInfo(task.taskId);
    expect(info.status).toBe(TaskStatus.COMPLETED);
    // Failed checks are not failed runs, but the operator sees the last one.
    expect(info.attempts).toBe(0);
    expect(info.lastError).toContain("check 2 failed: Error: the job API answered 503");
    expect(starts.get("flaky")).toBe(1);
  });

  it("shows RUNNING with the current status input while it waits", async () => {
    configs.set("shown", { checks: 3, initialMs: WINDOW_MS, maxMs: WINDOW_MS });
    const task = Probe.ref("shown").spawn().run(ctx, { scenario: "remote" });
    await task.started;
    for (const cursor of [1, 2]) {
      const info = await eventually(`status input with cursor ${cursor}`, async () => {
        const got = await tasks.get({ taskId: task.taskId });
        return got.remoteStatusInput.includes(`"cursor":${cursor}`) ? got : undefined;
      });
      expect(info.status).toBe(TaskStatus.RUNNING);
      expect(JSON.parse(info.remoteStatusInput)).toEqual({ id: "job-shown", cursor });
      expect(info.attempts).toBe(0);
      // It is the record that says RUNNING: no run is in memory meanwhile.
      expect(getsOf("shown").length).toBe(cursor);
    }
    expect((await task).result).toBe("rendered job-shown");
    const ended = await waitInfo(task.taskId);
    expect(ended.status).toBe(TaskStatus.COMPLETED);
    expect(ended.remoteStatusInput).toBe("");
  });

  it("survives a restart mid-wait: start is not called again, checks resume with the stored input", async () => {
    const initialMs = WINDOW_MS / 2;
    configs.set("restart", { checks: 4, initialMs });
    const task = Probe.ref("restart").spawn().run(ctx, { scenario: "remote" });
    await task.started;
    await eventually("two checks, then a suspension", async () => {
      if (getsOf("restart").length < 2) return false;
      return (await tasks.get({ taskId: task.taskId })).remoteStatusInput.includes('"cursor":2');
    });

    await app.restart();
    // The old clients' HTTP/2 sessions died with the old server.
    tasks = tasksClient(app.url);
    ctx = app.context();
    const info = await waitInfo(task.taskId);
    expect(info.status).toBe(TaskStatus.COMPLETED);
    expect(results.get("restart")).toBe("rendered job-restart");
    expect(starts.get("restart")).toBe(1);
    const gets = getsOf("restart");
    expect(gets.map((g) => g.cursor)).toEqual([0, 1, 2, 3]);
    // The stored schedule held: the third check waited its 2 × initialMs.
    expect(gets[2]!.at - gets[1]!.at).toBeGreaterThanOrEqual(2 * initialMs);
  });

  it("a start interrupted by a crash is never run again: later runs throw AtMostOnceFailedBeforeCompleting", async () => {
    configs.set("hang", { checks: 1, initialMs: 20, hangInStart: true });
    const task = Probe.ref("hang").spawn().run(ctx, { scenario: "remote" });
    await eventually("start posting the job", () => starts.get("hang") === 1);

    // The application goes down inside start: whether the job began is unknown.
    await app.restart();
    tasks = tasksClient(app.url);
    ctx = app.context();
    const info = await eventually("the step refusing to start again", async () => {
      const got = await tasks.get({ taskId: task.taskId });
      return got.lastError.includes("AtMostOnceFailedBeforeCompleting") ? got : undefined;
    });
    expect(info.lastError).toContain('step "render" started in an earlier run and never completed');
    // That run got past the step's start without calling it; retries refuse alike.
    expect(starts.get("hang")).toBe(1);
    expect(getsOf("hang").length).toBe(0);
    await tasks.cancel({ taskId: task.taskId });
  });

  it("a task cancelled while it waits is not checked again", async () => {
    configs.set("cancel", { checks: 5, initialMs: WINDOW_MS });
    const task = Probe.ref("cancel").spawn().run(ctx, { scenario: "remote" });
    await task.started;
    await eventually("a suspension after the first check", async () =>
      (await tasks.get({ taskId: task.taskId })).remoteStatusInput.includes('"cursor":1'),
    );
    const cancelled = await tasks.cancel({ taskId: task.taskId });
    expect(cancelled.status).toBe(TaskStatus.CANCELLED);
    // The sync point: the same job started after the cancel has had its
    // second check, so the cancelled one's second check was due before.
    configs.set("cancel-control", { checks: 5, initialMs: WINDOW_MS });
    const control = Probe.ref("cancel-control").spawn().run(ctx, { scenario: "remote" });
    await eventually("the control job's second check", () => getsOf("cancel-control").length >= 2);
    await tasks.cancel({ taskId: control.taskId });
    expect(getsOf("cancel").length).toBe(1);
    expect((await tasks.get({ taskId: task.taskId })).status).toBe(TaskStatus.CANCELLED);
  });

  it("a nonsensical backoff fails the task", async () => {
    const task = Probe.ref("badBackoff").spawn().run(ctx, { scenario: "remoteBadBackoff" });
    await expect(task).rejects.toThrow();
    const info = await waitInfo(task.taskId);
    expect(info.status).toBe(TaskStatus.FAILED);
    expect(info.lastError).toContain("backoff.multiplier must be a finite number >= 1");
  });
});
