// Graceful drain and health endpoints (issue 13, item 8), against a real
// server process (test/fixtures/drain-server.ts) stopped with SIGTERM: new
// calls get UNAVAILABLE and /readyz 503 while it drains, an in-flight call
// completes, open Watch streams and task waits end with UNAVAILABLE "server
// stopping", the process exits 0 within its drain bound, and a workflow the
// stop interrupted completes after a restart, each step's effect once.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Code, ConnectError } from "@cairn-dev/cairn";
import { Probe } from "../../generated/probe/v1/probe_cairn.js";
import { freePort, ServerProcesses, within } from "./helpers.js";
import { waitFor } from "../fixtures/waiting.js";
import { tasksClient } from "../fixtures/tasks-client.js";
import { TaskStatus } from "../../generated/cairn/v1/tasks_pb.js";

vi.setConfig({ testTimeout: 300_000, hookTimeout: 240_000 });

const SCRIPT = fileURLToPath(new URL("../fixtures/drain-server.ts", import.meta.url));

describe("SIGTERM drains a real server", () => {
  const processes = new ServerProcesses();
  let effectsDir = "";
  const release = (name: string) => writeFileSync(join(effectsDir, `release-${name}`), "");
  const lines = (log: string): string[] => {
    const file = join(effectsDir, `${log}.log`);
    return existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : [];
  };
  const probe = async (url: string, path: string) => {
    const res = await fetch(`${url}${path}`);
    return { status: res.status, body: (await res.json()) as { status: string; reason?: string } };
  };
  const errorOf = (p: Promise<unknown>): Promise<ConnectError | undefined> =>
    p.then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );

  beforeAll(async () => {
    effectsDir = await processes.tempDataDir("cairn-drain-effects-");
    // The server processes inherit these (spawnServer copies process.env).
    process.env.CAIRN_EFFECTS_DIR = effectsDir;
  });
  afterAll(async () => {
    await processes.close();
    delete process.env.CAIRN_EFFECTS_DIR;
    delete process.env.CAIRN_DRAIN_TIMEOUT;
  });

  it("finishes in-flight calls, refuses new ones, ends streams and waits, exits 0; the workflow resumes after restart, once", async () => {
    // Long enough that only the test's release ends the slow call.
    process.env.CAIRN_DRAIN_TIMEOUT = "60s";
    const dataDir = await processes.tempDataDir("cairn-drain-");
    const port = await freePort();
    const server = await processes.spawn({ dataDir, port, script: SCRIPT });
    const ctx = processes.connect(server.url, { timeoutMs: 120_000 });
    expect(await probe(server.url, "/readyz")).toEqual({ status: 200, body: { status: "ready" } });

    // A workflow parked inside a step, and a caller waiting for its result.
    const task = Probe.ref("wf-1").spawn().run(ctx, { scenario: "drain-wf" });
    await task.started;
    await waitFor(() => lines("drain-wf").some((l) => l.startsWith("parked")), "the workflow to park");
    const tasks = tasksClient(server.url);
    const waiting = errorOf(tasks.wait({ taskId: task.taskId }));
    // A Watch stream (the Connect fast path), and a slow unary call in flight.
    const abort = new AbortController();
    const watch = Probe.ref("watched").reactively(abort.signal).get(ctx)[Symbol.asyncIterator]();
    expect((await watch.next()).value?.counter).toBe(0n);
    const slow = Probe.ref("slow-1").get(ctx);
    await waitFor(() => lines("drain").includes("entered slow-1"), "the slow call to be in flight");

    server.kill("SIGTERM");
    const draining = await waitFor(async () => {
      const ready = await probe(server.url, "/readyz");
      return ready.status === 503 ? ready.body : undefined;
    }, "/readyz to answer 503");
    expect(draining).toEqual({ status: "not ready", reason: "draining: the server is stopping" });
    expect(await probe(server.url, "/healthz")).toEqual({ status: 200, body: { status: "ok" } });

    // New calls are refused; the stream and the wait end, saying why.
    const refused = await errorOf(Probe.ref("new").get(ctx));
    expect([refused?.code, refused?.rawMessage]).toEqual([Code.Unavailable, "server stopping"]);
    const ended = await errorOf(watch.next());
    expect([ended?.code, ended?.rawMessage]).toEqual([Code.Unavailable, "server stopping"]);
    const wait = await waiting;
    expect([wait?.code, wait?.rawMessage]).toEqual([Code.Unavailable, "server stopping"]);

    // The in-flight call completes, then the process exits 0.
    expect(server.hasExited).toBe(false);
    release("slow-1");
    expect((await slow).counter).toBe(0n);
    expect(await within(60_000, "the drained server exit", server.exited)).toEqual({ code: 0, signal: null });

    // Restarted on the same data: the workflow resumes after its last recorded step.
    release("wf-1");
    const second = await processes.spawn({ dataDir, port, script: SCRIPT });
    const final = await tasksClient(second.url).wait({ taskId: task.taskId }, { timeoutMs: 120_000 });
    expect(final.status).toBe(TaskStatus.COMPLETED);
    const effects = lines("drain-wf").filter((l) => l.endsWith(` ${task.taskId}`)).map((l) => l.split(" ")[0]);
    expect(effects.filter((e) => e === "first")).toHaveLength(1);
    expect(effects.filter((e) => e === "last")).toHaveLength(1);
  });

  it("exits 0 at the drain bound when a call does not finish", async () => {
    process.env.CAIRN_DRAIN_TIMEOUT = "1s";
    const dataDir = await processes.tempDataDir("cairn-drain-bound-");
    const server = await processes.spawn({ dataDir, port: await freePort(), script: SCRIPT });
    const ctx = processes.connect(server.url, { timeoutMs: 120_000 });
    const stuck = errorOf(Probe.ref("slow-never").get(ctx));
    await waitFor(() => lines("drain").includes("entered slow-never"), "the stuck call to be in flight");
    server.kill("SIGTERM");
    // (The deadline only bounds a hang; the bound itself is 1 s.)
    expect(await within(60_000, "the server exit", server.exited)).toEqual({ code: 0, signal: null });
    expect((await stuck)?.code).toBeDefined();
  });

  it("a workflow deaf to its signal holds the stop up to the drain bound, not a fixed wait", async () => {
    process.env.CAIRN_DRAIN_TIMEOUT = "1h";
    const dataDir = await processes.tempDataDir("cairn-drain-deaf-");
    const server = await processes.spawn({ dataDir, port: await freePort(), script: SCRIPT });
    const ctx = processes.connect(server.url, { timeoutMs: 120_000 });
    const task = Probe.ref("deaf-1").spawn().run(ctx, { scenario: "drain-wf-deaf" });
    await task.started;
    await waitFor(() => lines("drain-wf-deaf").includes(`blocked ${task.taskId}`), "the workflow to block");
    server.kill("SIGTERM");
    const signalled = Date.now();
    // Still draining (answering 503) well past the 2 s the dispatcher once gave running tasks.
    await waitFor(async () => (await probe(server.url, "/readyz")).status === 503 && Date.now() - signalled > 3_000, "3 s of draining");
    expect(server.hasExited).toBe(false);
    release("deaf-1");
    expect(await within(60_000, "the server exit", server.exited)).toEqual({ code: 0, signal: null });
    expect(lines("drain-wf-deaf")).toContain(`released ${task.taskId}`);
  });

  it("exits 0 at the drain bound when a workflow does not let go", async () => {
    process.env.CAIRN_DRAIN_TIMEOUT = "200ms";
    const dataDir = await processes.tempDataDir("cairn-drain-deaf-bound-");
    const server = await processes.spawn({ dataDir, port: await freePort(), script: SCRIPT });
    const ctx = processes.connect(server.url, { timeoutMs: 120_000 });
    const task = Probe.ref("deaf-never").spawn().run(ctx, { scenario: "drain-wf-deaf" });
    await task.started;
    await waitFor(() => lines("drain-wf-deaf").includes(`blocked ${task.taskId}`), "the workflow to block");
    server.kill("SIGTERM");
    expect(await within(60_000, "the server exit", server.exited)).toEqual({ code: 0, signal: null });
  });

  it("a second signal during the drain ends the process at once", async () => {
    process.env.CAIRN_DRAIN_TIMEOUT = "60s";
    const dataDir = await processes.tempDataDir("cairn-drain-twice-");
    const server = await processes.spawn({ dataDir, port: await freePort(), script: SCRIPT });
    const ctx = processes.connect(server.url, { timeoutMs: 120_000 });
    void Probe.ref("slow-twice").get(ctx).catch(() => {});
    await waitFor(() => lines("drain").includes("entered slow-twice"), "the stuck call to be in flight");
    server.kill("SIGTERM");
    await waitFor(async () => (await probe(server.url, "/readyz")).status === 503, "the drain to begin");
    server.kill("SIGINT");
    expect(await within(60_000, "the server exit", server.exited)).toEqual({ code: null, signal: "SIGINT" });
  });
});
