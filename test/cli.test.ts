// The `cairn` CLI, run as a child process against a live application:
// tasks list/show/wait, exit codes (0 ok, 1 not found or failed, 2 usage,
// 3 unreachable), --json, --token and CAIRN_URL.
import { execFile } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FatalError, hmacTokenVerifier, type ExternalContext } from "cairn";
import { TestApplication } from "cairn/testing";
import { Probe } from "../generated/probe/v1/probe_cairn.js";
import { PROBE_ADMIN_TOKEN, PROBE_TOKEN_SECRET, ProbeServicerImpl, defineScenario } from "./fixtures/probe-servicer.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

defineScenario("cli-echo", async (_ctx, req) => ({ result: `echo ${req.target}`, value: req.n }));
defineScenario("cli-fatal", async () => {
  throw new FatalError("the sky fell");
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI from source, as `node --import tsx src/cli/main.ts …`. */
function cairn(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "src/cli/main.ts", ...args],
      { cwd: ROOT, env: { ...process.env, CAIRN_URL: "", CAIRN_TOKEN: "", ...env }, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let app: TestApplication;
let ctx: ExternalContext;
let done: string;
let later: string;
let failed: string;
let soon: string;
let url: string[];
const admin = () => ["--url", app.url, "--token", PROBE_ADMIN_TOKEN];

beforeAll(async () => {
  app = await TestApplication.start({ servicers: [ProbeServicerImpl], tokenVerifier: hmacTokenVerifier(PROBE_TOKEN_SECRET) });
  ctx = app.context();
  url = ["--url", app.url];
  const d = Probe.ref("cli-a").spawn().run(ctx, { scenario: "cli-echo", target: "hello", n: 7n });
  await d;
  done = d.taskId;
  const l = Probe.ref("cli-b").spawn({ when: Date.now() + 3_600_000 }).run(ctx, { scenario: "cli-echo" });
  await l.started;
  later = l.taskId;
  const f = Probe.ref("cli-c").spawn().run(ctx, { scenario: "cli-fatal" });
  await Promise.resolve(f).catch(() => undefined);
  failed = f.taskId;
  const s = Probe.ref("cli-d").spawn({ when: Date.now() + 1_500 }).run(ctx, { scenario: "cli-echo", target: "soon" });
  await s.started;
  soon = s.taskId;
});
afterAll(async () => {
  await app?.stop();
});

describe("cairn tasks list", () => {
  it("lists every task in a table", async () => {
    const { code, stdout, stderr } = await cairn(["tasks", "list", ...admin()]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toMatch(/^TASK\s+STATUS\s+TYPE\s+ACTOR\s+METHOD/);
    for (const id of [done, later, failed, soon]) expect(stdout).toContain(id);
    expect(stdout).toMatch(new RegExp(`${later}\\s+SCHEDULED\\s+probe\\.v1\\.Probe\\s+cli-b\\s+run`));
  });

  it("filters by --state, --actor and --type; --json prints the response", async () => {
    const byState = await cairn(["tasks", "list", "--state", "scheduled", "--json", ...admin()]);
    expect(byState.code).toBe(0);
    const ids = (JSON.parse(byState.stdout) as { tasks: Array<{ taskId: string }> }).tasks.map((t) => t.taskId);
    expect(ids).toContain(later);
    expect(ids).not.toContain(done);
    expect(ids).not.toContain(failed);

    const byActor = await cairn(["tasks", "list", "--actor", "cli-c", "--type", "probe.v1.Probe", "--json", ...admin()]);
    const tasks = (JSON.parse(byActor.stdout) as { tasks: Array<{ taskId: string; status: string }> }).tasks;
    expect(tasks).toEqual([expect.objectContaining({ taskId: failed, status: "TASK_STATUS_FAILED" })]);

    const none = await cairn(["tasks", "list", "--type", "no.such.Type", ...admin()]);
    expect(none.stdout.trim()).toBe("no tasks");
  });

  it("is for operators: without an admin token it exits 1", async () => {
    const { code, stderr } = await cairn(["tasks", "list", ...url]);
    expect(code).toBe(1);
    expect(stderr).toContain("unauthenticated");
  });
});

describe("cairn tasks show", () => {
  it("shows status, iteration, attempts and the result read by field number", async () => {
    const { code, stdout } = await cairn(["tasks", "show", done, ...url]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/status\s+COMPLETED/);
    expect(stdout).toMatch(/actor\s+cli-a/);
    expect(stdout).toMatch(/iteration\s+0/);
    expect(stdout).toMatch(/attempts\s+0/);
    expect(stdout).toContain('fields by number: { 1: "echo hello", 2: 7 }');
  });

  it("shows when a scheduled task runs, and why a failed one failed", async () => {
    const scheduled = await cairn(["tasks", "show", later, ...url]);
    expect(scheduled.stdout).toMatch(/status\s+SCHEDULED/);
    expect(scheduled.stdout).toMatch(/run at\s+\S+ \(in (59m\d+s|1h)\)/);
    const fail = await cairn(["tasks", "show", failed, "--json"], { CAIRN_URL: app.url });
    expect(fail.code).toBe(0);
    const info = JSON.parse(fail.stdout) as { status: string; lastError: string };
    expect(info.status).toBe("TASK_STATUS_FAILED");
    expect(info.lastError).toContain("the sky fell");
  });

  it("exits 1 for an unknown task id", async () => {
    const { code, stderr } = await cairn(["tasks", "show", "no-such-task", ...url]);
    expect(code).toBe(1);
    expect(stderr).toContain("not found");
  });
});

describe("cairn tasks wait", () => {
  it("waits for the task to end: 0 when COMPLETED, 1 when FAILED", async () => {
    const [ok, bad] = await Promise.all([cairn(["tasks", "wait", soon, ...url]), cairn(["tasks", "wait", failed, ...url])]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/status\s+COMPLETED/);
    expect(ok.stdout).toContain('"echo soon"');
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/status\s+FAILED/);
  });
});

describe("usage and connection errors", () => {
  it("--help works on every level and exits 0", async () => {
    const runs = await Promise.all([cairn(["--help"]), cairn(["tasks", "--help"]), cairn(["tasks", "list", "--help"])]);
    for (const r of runs) expect(r.code).toBe(0);
    expect(runs[0]!.stdout).toContain("Usage: cairn <group>");
    expect(runs[1]!.stdout).toContain("cancel ID");
    expect(runs[1]!.stdout).toContain("watch        not yet");
    expect(runs[2]!.stdout).toContain("--state STATE");
  });

  it("bad usage exits 2 with a pointer to --help", async () => {
    const runs = await Promise.all([
      cairn(["tasks", "list", "--state", "sleeping", ...url]),
      cairn(["tasks", "frobnicate", ...url]),
      cairn(["tasks", "show", ...url]),
      cairn(["tasks", "list", "--bogus", ...url]),
      cairn(["tasks", "watch", done, ...url]),
      cairn([]),
    ]);
    for (const r of runs) expect(r.code, r.stderr).toBe(2);
    expect(runs[0]!.stderr).toContain("--state must be one of");
    expect(runs[0]!.stderr).toContain('Run "cairn tasks list --help"');
    expect(runs[4]!.stderr).toContain("not yet");
  });

  it("an unreachable server exits 3", async () => {
    const port = await closedPort();
    const { code, stderr } = await cairn(["tasks", "show", done, "--url", `http://127.0.0.1:${port}`]);
    expect(code).toBe(3);
    expect(stderr).toContain(`cannot connect to http://127.0.0.1:${port}`);
  });
});

describe("cairn tasks cancel|pause|resume", () => {
  it("pauses, resumes and cancels a task (operators); refuses an ended one or a caller without a token", async () => {
    const t = Probe.ref("cli-e").spawn({ when: Date.now() + 3_600_000 }).run(ctx, { scenario: "cli-echo" });
    await t.started;
    const paused = await cairn(["tasks", "pause", t.taskId, ...admin()]);
    expect(paused.code, paused.stderr).toBe(0);
    expect(paused.stdout).toMatch(/status\s+PAUSED/);
    const resumed = await cairn(["tasks", "resume", t.taskId, ...admin()]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/status\s+SCHEDULED/);
    const [anonymous, ended] = await Promise.all([
      cairn(["tasks", "cancel", t.taskId, ...url]),
      cairn(["tasks", "cancel", done, ...admin()]),
    ]);
    expect(anonymous.code).toBe(1);
    expect(ended.code).toBe(1);
    expect(ended.stderr).toContain("has ended");
    const cancelled = await cairn(["tasks", "cancel", t.taskId, "--json", ...admin()]);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(JSON.parse(cancelled.stdout).status).toBe("TASK_STATUS_CANCELLED");
  });
});
