// Structured logs (issue 13 item 3): the records a failing call and a
// failing task leave, through the `logger` option (a real pino logger), and
// the lines a real server process writes on stdout and stderr: JSON with
// NODE_ENV=production, readable otherwise, `serving on URL` in both.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fileURLToPath } from "node:url";
import { Code, ConnectError } from "@cairn-dev/cairn";
import { TestApplication } from "@cairn-dev/cairn/testing";
import { Probe } from "../generated/probe/v1/probe_cairn.js";
import { defineScenario } from "./fixtures/probe-servicer.js";
import { BUG_NOTE, BuggyProbe } from "./fixtures/log-probe.js";
import { recordingLogger, type LogRecord } from "./fixtures/recording-logger.js";
import { rejectionOf, waitFor, within } from "./fixtures/waiting.js";
import { ServerProcesses, stopServer, type SpawnedServer } from "./e2e/helpers.js";
import { CLI_TEST_TIMEOUT_MS, runScript } from "./fixtures/cli-process.js";

const LOG_SERVER = fileURLToPath(new URL("./fixtures/log-server.ts", import.meta.url));

defineScenario("log-throws", async () => {
  throw new Error("a workflow bug");
});

describe("the logger option", () => {
  const log = recordingLogger("debug");
  let app: TestApplication;

  beforeAll(async () => {
    // Backoff far beyond the test: the failing workflow runs once.
    app = await TestApplication.start({ servicers: [BuggyProbe], logger: log.logger, retry: { initialMs: 600_000, maxMs: 600_000 } });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it("a handler that throws: one error record naming state type, actor and method, with the stack", async () => {
    const ctx = app.context();
    const e = await rejectionOf(Probe.ref("log-call").add(ctx, { amount: 1n, note: BUG_NOTE }));
    expect(ConnectError.from(e).code).toBe(Code.Internal);
    const threw = log.records.filter((r) => r.actorId === "log-call");
    expect(threw).toEqual([
      expect.objectContaining({ level: "error", stateType: "probe.v1.Probe", actorId: "log-call", method: "add", msg: "probe.v1.ProbeMethods.Add threw" }),
    ]);
    expect(threw[0]!.err).toMatchObject({ type: "Error", message: "a handler bug" });
    expect(threw[0]!.err!.stack).toContain("log-probe.ts");
  });

  it("a workflow that throws: records bound to its task id, a warning that it runs again", async () => {
    const ctx = app.context();
    const task = Probe.ref("log-task").spawn().run(ctx, { scenario: "log-throws" });
    await within(task.started);
    const { taskId } = task;
    const ofTask = (r: LogRecord) => r.taskId === taskId;
    const retry = await waitFor(() => log.records.find((r) => ofTask(r) && r.level === "warn"), "the run's warning");
    expect(retry).toMatchObject({ stateType: "probe.v1.Probe", actorId: "log-task", method: "run", attempts: 1, msg: "the run threw: it runs again" });
    expect(retry.err).toMatchObject({ message: "a workflow bug" });
    expect(typeof retry.retryAt).toBe("string");
    // The child logger binds the same fields to the run's debug records.
    expect(log.records.find((r) => ofTask(r) && r.level === "debug")).toMatchObject({ actorId: "log-task", method: "run", msg: "run started (iteration 0, attempt 1)" });
  });
});

describe("TestApplication", () => {
  it("logs nothing, so an error a test provokes prints no stack; CAIRN_LOG_LEVEL shows it", { timeout: CLI_TEST_TIMEOUT_MS }, async () => {
    const quiet = await runScript("test/fixtures/quiet-test-app.ts", [], { env: { NODE_ENV: "test", CAIRN_LOG_LEVEL: "" } });
    expect(quiet).toEqual({ code: 0, stdout: "refused: Internal\n", stderr: "" });
    const shown = await runScript("test/fixtures/quiet-test-app.ts", [], { env: { NODE_ENV: "test", CAIRN_LOG_LEVEL: "error" } });
    expect(shown.stdout).toBe("refused: Internal\n");
    expect(shown.stderr).toMatch(/^cairn: ERROR probe\.v1\.ProbeMethods\.Add threw {2}stateType=probe\.v1\.Probe actorId=quiet method=add\n {4}Error: a handler bug\n {8}at /);
  });
});

describe("a real server process", () => {
  const processes = new ServerProcesses();
  afterAll(() => processes.close());

  /** Starts log-server.ts with `env`, makes one call that hits the handler bug, stops it with SIGTERM; returns its output lines. */
  async function run(env: Record<string, string>): Promise<{ server: SpawnedServer; out: string[]; err: string[] }> {
    const dataDir = await processes.tempDataDir("cairn-logs-");
    const server = await processes.spawn({ script: LOG_SERVER, dataDir, port: 0, env: { CAIRN_DRAIN_TIMEOUT: "10s", CAIRN_LOG_LEVEL: "info", ...env } });
    const ctx = processes.connect(server.url);
    expect(ConnectError.from(await rejectionOf(Probe.ref("proc").add(ctx, { amount: 1n, note: BUG_NOTE }))).code).toBe(Code.Internal);
    // The grace only bounds a hang (both cores busy): SIGKILL after it fails the test.
    const exit = await stopServer(server, 60_000);
    expect(exit).toEqual({ code: 0, signal: null });
    const lines = server.output().split("\n");
    const of = (stream: string) => lines.filter((l) => l.startsWith(`[${stream}] `)).map((l) => l.slice(stream.length + 3));
    return { server, out: of("out"), err: of("err") };
  }

  it("NODE_ENV=production: every line on stdout is a JSON record; the call's error carries its fields and stack", async () => {
    const { server, out, err } = await run({ NODE_ENV: "production" });
    expect(err).toEqual([]);
    const records = out.map((line) => JSON.parse(line) as LogRecord);
    expect(records.map((r) => r.msg)).toEqual(["serving on " + server.url, "probe.v1.ProbeMethods.Add threw", "SIGTERM: draining for up to 10000 ms", "stopped"]);
    for (const r of records) expect(r).toMatchObject({ name: "cairn", time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), pid: server.pid });
    expect(records[1]).toMatchObject({ level: "error", stateType: "probe.v1.Probe", actorId: "proc", method: "add", err: { message: "a handler bug" } });
    expect(records[1]!.err!.stack).toContain("\n    at ");
  });

  it("otherwise: readable lines, `cairn: serving on URL` exactly, the error on stderr with its fields and an indented stack", async () => {
    const { server, out, err } = await run({ NODE_ENV: "development" });
    expect(out).toEqual([`cairn: serving on ${server.url}`, "cairn: SIGTERM: draining for up to 10000 ms", "cairn: stopped"]);
    expect(err[0]).toBe("cairn: ERROR probe.v1.ProbeMethods.Add threw  stateType=probe.v1.Probe actorId=proc method=add");
    expect(err[1]).toBe("    Error: a handler bug");
    expect(err.slice(2).every((l) => l.startsWith("        at "))).toBe(true);
  });
});
