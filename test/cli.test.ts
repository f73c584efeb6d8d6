// The `cairn` CLI, run as a child process against a live application:
// tasks list/show/wait/watch, actors get, schedules list/delete, exit codes (0 ok, 1 not found or failed, 2 usage,
// 3 unreachable), --json, --token and CAIRN_URL.
import { CLI_TEST_TIMEOUT_MS, runCli } from "./fixtures/cli-process.js";
import { closedPort } from "./fixtures/closed-port.js";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { FatalError, hmacTokenVerifier, type ExternalContext } from "@cairn-dev/cairn";
import { TestApplication } from "@cairn-dev/cairn/testing";
import { create } from "@bufbuild/protobuf";
import { TaskInfoSchema, TaskStatus, type TaskInfo } from "../generated/cairn/v1/tasks_pb.js";
import { Probe } from "../generated/probe/v1/probe_cairn.js";
import { human } from "../src/cli/format-task.js";
import { renderWatch } from "../src/cli/watch-task.js";
import { CronProbe, cronNote, type CronCommand } from "./fixtures/cron-probe.js";
import { PROBE_ADMIN_TOKEN, PROBE_TOKEN_SECRET, defineScenario } from "./fixtures/probe-servicer.js";
import { tasksClient } from "./fixtures/tasks-client.js";

vi.setConfig({ testTimeout: CLI_TEST_TIMEOUT_MS, hookTimeout: CLI_TEST_TIMEOUT_MS });

defineScenario("cli-echo", async (_ctx, req) => ({ result: `echo ${req.target}`, value: req.n }));
/** Opened by the test once `tasks watch` printed its first line (before or after the run gets here). */
let openWatched!: () => void;
const watched = new Promise<void>((resolve) => (openWatched = resolve));
defineScenario("cli-progress", async (ctx) => {
  await watched;
  for (let i = 1; i <= 5; i++) {
    ctx.progress({ location: `copying part ${i}`, fraction: i / 5, remainingMs: (5 - i) * 1_000 });
    await new Promise((resolve) => setTimeout(resolve, 60));
  }
  return { result: "copied" };
});
defineScenario("cli-fatal", async () => {
  throw new FatalError("the sky fell");
});

/** The CLI from source, as `node --import tsx src/cli/main.ts …`. */
const cairn = (args: string[], env: Record<string, string> = {}, onStdout?: (chunk: string) => void) =>
  runCli(args, { env, onStdout });

let app: TestApplication;
let ctx: ExternalContext;
let done: string;
let later: string;
let failed: string;
let soon: string;
let url: string[];
const admin = () => ["--url", app.url, "--token", PROBE_ADMIN_TOKEN];

beforeAll(async () => {
  app = await TestApplication.start({ servicers: [CronProbe], tokenVerifier: hmacTokenVerifier(PROBE_TOKEN_SECRET) });
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
  it("shows status, iteration, attempt and the result as JSON (decoded through server reflection)", async () => {
    const { code, stdout } = await cairn(["tasks", "show", done, ...url]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/status\s+COMPLETED/);
    expect(stdout).toMatch(/actor\s+cli-a/);
    expect(stdout).toMatch(/iteration\s+0/);
    expect(stdout).toMatch(/attempt\s+1\n/); // as the history's "started … attempt 1"
    expect(stdout).toMatch(/result\s+\{"result":"echo hello","value":"7"\}\n/);
    // The history, oldest first.
    expect(stdout).toMatch(/history\n\s+\S+Z\s+spawned\s+probe\.v1\.Probe\("cli-a"\)\.run\n\s+\S+Z\s+started\s+iteration 0, attempt 1\n\s+\S+Z\s+completed/);
  });

  it("shows when a scheduled task runs, and why a failed one failed", async () => {
    const runAt = Number((await tasksClient(app.url).get({ taskId: later })).runAtMs);
    const before = Date.now();
    const scheduled = await cairn(["tasks", "show", later, ...url]);
    const after = Date.now();
    expect(scheduled.stdout).toMatch(/status\s+SCHEDULED/);
    // The time left, as the CLI read the clock at some moment of its run.
    const [, at, left] = /run at\s+(\S+) \(in (\S+)\)/.exec(scheduled.stdout) ?? [];
    expect(at).toBe(new Date(runAt).toISOString());
    const possible = new Set<string>();
    for (let t = before; t < after + 1_000; t += 250) possible.add(human(runAt - Math.min(t, after)));
    expect([...possible]).toContain(left);
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
    expect(runs[0]!.stdout).toContain("Usage: cairn <command>");
    expect(runs[1]!.stdout).toContain("cancel ID");
    expect(runs[1]!.stdout).toContain("watch ID");
    expect(runs[1]!.stdout).not.toContain("not yet");
    expect(runs[0]!.stdout).not.toContain("not yet");
    const more = await Promise.all([cairn(["tasks", "watch", "--help"]), cairn(["actors", "--help"]), cairn(["actors", "get", "--help"])]);
    for (const r of more) expect(r.code).toBe(0);
    expect(more[0]!.stdout).toContain("Usage: cairn tasks watch ID");
    expect(more[1]!.stdout).toContain("get TYPE ID");
    expect(more[2]!.stdout).toContain("Usage: cairn actors get TYPE ID");
    expect(runs[2]!.stdout).toContain("--state STATE");
    expect(runs[0]!.stdout).toMatch(/schedules\s+cron schedules: list, delete/);
  });

  it("schedules --help and its commands' --help exit 0", async () => {
    const runs = await Promise.all([
      cairn(["schedules", "--help"]),
      cairn(["schedules", "list", "--help"]),
      cairn(["schedules", "delete", "--help"]),
    ]);
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    expect(runs[0]!.stdout).toContain("Usage: cairn schedules <command>");
    expect(runs[0]!.stdout).toContain("delete ID");
    expect(runs[1]!.stdout).toContain("Usage: cairn schedules list [--type TYPE] [--actor ID] [--json]");
    expect(runs[2]!.stdout).toContain("Usage: cairn schedules delete ID [--json]");
  });

  it("bad usage exits 2 with a pointer to --help", async () => {
    const runs = await Promise.all([
      cairn(["tasks", "list", "--state", "sleeping", ...url]),
      cairn(["tasks", "frobnicate", ...url]),
      cairn(["tasks", "show", ...url]),
      cairn(["tasks", "list", "--bogus", ...url]),
      cairn(["actors", "get", "probe.v1.Probe", ...admin()]),
      cairn([]),
      cairn(["schedules", "delete", ...admin()]),
      cairn(["schedules", "list", "--state", "x", ...admin()]),
      cairn(["schedules"]),
    ]);
    for (const r of runs) expect(r.code, r.stderr).toBe(2);
    expect(runs[0]!.stderr).toContain("--state must be one of");
    expect(runs[0]!.stderr).toContain('Run "cairn tasks list --help"');
    expect(runs[4]!.stderr).toContain("expected a state TYPE and an actor ID");
    expect(runs[4]!.stderr).toContain('Run "cairn actors get --help"');
    expect(runs[6]!.stderr).toContain("expected one schedule ID");
    expect(runs[6]!.stderr).toContain('Run "cairn schedules delete --help"');
    expect(runs[7]!.stderr).toContain('Run "cairn schedules list --help"');
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

describe("cairn tasks watch", () => {
  it("shows progress as it changes until the task completes: exit 0; plain lines when not a terminal", async () => {
    const t = Probe.ref("cli-w").spawn().run(ctx, { scenario: "cli-progress" });
    await t.started;
    const { code, stdout, stderr } = await cairn(["tasks", "watch", t.taskId, ...url], {}, () => openWatched());
    expect(code, stderr).toBe(0);
    const lines = stdout.split("\n");
    expect(lines[0]).toMatch(/^(SCHEDULED|RUNNING)\s+no progress reported$/);
    // Progress lines, in order: the location, a bar for the fraction, the time left.
    expect(stdout).toMatch(/RUNNING\s+copying part \d\s+\[#+-*\]\s+\d+\.\d%\s+\ds left/);
    expect(stdout).toMatch(/copying part 5\s+\[#{20}\] 100\.0%\s+0s left/);
    expect(stdout).not.toContain("\r");
    // Then the task as `tasks show` prints it.
    expect(stdout).toMatch(/status\s+COMPLETED/);
    expect(stdout).toMatch(/progress\s+copying part 5/);
  });

  it("exits 1 for a task that ended otherwise, or an unknown one; --json prints TaskInfo lines", async () => {
    const [bad, unknown, json] = await Promise.all([
      cairn(["tasks", "watch", failed, ...url]),
      cairn(["tasks", "watch", "no-such-task", ...url]),
      cairn(["tasks", "watch", done, "--json", ...url]),
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/status\s+FAILED/);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("not found");
    expect(json.code).toBe(0);
    const infos = json.stdout.trim().split("\n").map((l) => JSON.parse(l) as { taskId: string; status: string });
    expect(infos).toEqual([expect.objectContaining({ taskId: done, status: "TASK_STATUS_COMPLETED" })]);
  });
});

describe("tasks watch on a terminal", () => {
  it("rewrites one line in place, cut to the terminal's width, then prints the task", async () => {
    const info = (status: TaskStatus, fraction?: number): TaskInfo =>
      create(TaskInfoSchema, {
        taskId: "t1",
        status,
        progress: fraction === undefined ? undefined : { location: "loading", fraction, remainingMs: 2_000n, updatedAtMs: 1n },
      });
    async function* updates() {
      yield info(TaskStatus.RUNNING);
      yield info(TaskStatus.RUNNING, 0.5);
      yield info(TaskStatus.RUNNING, 0.5); // unchanged: not redrawn
      yield info(TaskStatus.COMPLETED, 1);
    }
    let written = "";
    const out = { isTTY: true, columns: 40, write: (text: string) => (written += text) };
    const last = await renderWatch(updates(), out, false);
    expect(last?.status).toBe(TaskStatus.COMPLETED);
    const [live, ...rest] = written.split("\n");
    expect(live!.split("\r\x1b[K")).toEqual([
      "",
      "RUNNING    no progress reported",
      "RUNNING    loading  [##########--------",
      "COMPLETED  loading  [##################",
    ]);
    expect(rest.join("\n")).toMatch(/^task\s+t1\nstatus\s+COMPLETED/);
  });
});

describe("cairn actors get", () => {
  it("prints the actor's state as JSON (operators); unknown actors and types exit 1; no admin token exits 1", async () => {
    await Probe.ref("cli-state").add(ctx, { amount: 5n, note: "hi" });
    const [got, json, missing, badType, anonymous] = await Promise.all([
      cairn(["actors", "get", "probe.v1.Probe", "cli-state", ...admin()]),
      cairn(["actors", "get", "probe.v1.Probe", "cli-state", "--json", ...admin()]),
      cairn(["actors", "get", "probe.v1.Probe", "nobody", ...admin()]),
      cairn(["actors", "get", "no.such.Type", "cli-state", ...admin()]),
      cairn(["actors", "get", "probe.v1.Probe", "cli-state", ...url]),
    ]);
    expect(got.code, got.stderr).toBe(0);
    expect(JSON.parse(got.stdout)).toEqual({ counter: "5", log: ["hi"], flag: false });
    expect(json.code).toBe(0);
    const res = JSON.parse(json.stdout) as { stateJson: string; version: string };
    expect(JSON.parse(res.stateJson)).toEqual({ counter: "5", log: ["hi"], flag: false });
    expect(res.version).toBe("1");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("not found");
    expect(badType.code).toBe(1);
    expect(badType.stderr).toContain("not found");
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toContain("unauthenticated");
  });
});

describe("cairn schedules", () => {
  /** Schedules a cron from a committed writer on `actor` (CronProbe's `add`); returns the schedule id. */
  async function scheduleCron(actor: string, cmd: CronCommand): Promise<string> {
    const view = await Probe.ref(actor).unidempotently().add(ctx, { note: cronNote(cmd) });
    return view.log[0]!;
  }
  interface Listed {
    schedules: Array<{ scheduleId: string; stateType: string; actorId: string; cron: string; timezone?: string }>;
  }
  const ids = (stdout: string) => (JSON.parse(stdout) as Listed).schedules.map((s) => s.scheduleId);

  // New Year's only: nothing fires while the tests run.
  beforeAll(async () => {
    expect(await scheduleCron("cli-sa", { cron: "0 0 1 1 *", id: "cli-yearly", scenario: "cli-echo" })).toBe("cli-yearly");
    const paris = { cron: "30 4 1 1 *", timezone: "Europe/Paris", id: "cli-paris", scenario: "cli-echo" };
    expect(await scheduleCron("cli-sb", paris)).toBe("cli-paris");
  });

  it("list prints every schedule in a table", async () => {
    const { code, stdout, stderr } = await cairn(["schedules", "list", ...admin()]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toMatch(/^SCHEDULE\s+TYPE\s+ACTOR\s+METHOD\s+CRON\s+TIMEZONE\s+NEXT RUN\s+LAST TASK\s+SKIPPED\n/);
    expect(stdout).toMatch(/cli-yearly\s+probe\.v1\.Probe\s+cli-sa\s+run\s+0 0 1 1 \*\s+UTC\s+\d{4}-01-01T00:00:00\.000Z \(in \S+\)\s+-\s+0\n/);
    expect(stdout).toMatch(/cli-paris\s+probe\.v1\.Probe\s+cli-sb\s+run\s+30 4 1 1 \*\s+Europe\/Paris\s+\d{4}-01-01T03:30:00\.000Z \(in \S+\)\s+-\s+0/);
  });

  it("list filters by --actor and --type; --json prints the response", async () => {
    const all = await cairn(["schedules", "list", "--json", ...admin()]);
    expect(all.code, all.stderr).toBe(0);
    expect(ids(all.stdout)).toEqual(expect.arrayContaining(["cli-yearly", "cli-paris"]));
    const [byActor, byBoth, byType, none] = await Promise.all([
      cairn(["schedules", "list", "--actor", "cli-sb", "--json", ...admin()]),
      cairn(["schedules", "list", "--type", "probe.v1.Probe", "--actor", "cli-sa", "--json", ...admin()]),
      cairn(["schedules", "list", "--type", "probe.v1.Probe", "--json", ...admin()]),
      cairn(["schedules", "list", "--type", "no.such.Type", ...admin()]),
    ]);
    expect((JSON.parse(byActor.stdout) as Listed).schedules).toEqual([
      expect.objectContaining({ scheduleId: "cli-paris", actorId: "cli-sb", cron: "30 4 1 1 *", timezone: "Europe/Paris" }),
    ]);
    expect(ids(byBoth.stdout)).toEqual(["cli-yearly"]);
    expect(ids(byType.stdout)).toEqual(expect.arrayContaining(["cli-yearly", "cli-paris"]));
    expect(none.code).toBe(0);
    expect(none.stdout.trim()).toBe("no schedules");
  });

  it("delete removes a schedule and says what it deleted; then list no longer shows it", async () => {
    await scheduleCron("cli-sc", { cron: "0 0 1 1 *", id: "cli-doomed", scenario: "cli-echo" });
    await scheduleCron("cli-sc", { cron: "0 0 1 1 *", id: "cli-doomed-too", scenario: "cli-echo" });
    const deleted = await cairn(["schedules", "delete", "cli-doomed", ...admin()]);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.stdout.trim()).toBe('deleted schedule cli-doomed: probe.v1.Probe("cli-sc").run at "0 0 1 1 *" UTC');
    const json = await cairn(["schedules", "delete", "cli-doomed-too", "--json", ...admin()]);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(expect.objectContaining({ scheduleId: "cli-doomed-too", actorId: "cli-sc", method: "run" }));

    const after = await cairn(["schedules", "list", "--json", ...admin()]);
    expect(ids(after.stdout)).not.toContain("cli-doomed");
    expect(ids(after.stdout)).not.toContain("cli-doomed-too");
    expect(ids(after.stdout)).toContain("cli-yearly");
    const table = await cairn(["schedules", "list", "--actor", "cli-sc", ...admin()]);
    expect(table.stdout.trim()).toBe("no schedules");
  });

  it("delete of an unknown id exits 1 with NOT_FOUND's message", async () => {
    const [again, unknown] = await Promise.all([
      cairn(["schedules", "delete", "cli-doomed", ...admin()]),
      cairn(["schedules", "delete", "no-such-schedule", "--json", ...admin()]),
    ]);
    expect(again.code).toBe(1);
    expect(again.stdout).toBe("");
    expect(again.stderr).toContain('not found: no schedule "cli-doomed"');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('not found: no schedule "no-such-schedule"');
  });

  it("is for operators: without an admin token list and delete exit 1, deleting nothing", async () => {
    const [list, del] = await Promise.all([
      cairn(["schedules", "list", ...url]),
      cairn(["schedules", "delete", "cli-yearly", ...url]),
    ]);
    expect(list.code).toBe(1);
    expect(list.stderr).toContain("unauthenticated");
    expect(del.code).toBe(1);
    expect(del.stderr).toContain("unauthenticated");
    const still = await cairn(["schedules", "list", "--actor", "cli-sa", "--json", ...admin()]);
    expect(ids(still.stdout)).toEqual(["cli-yearly"]);
  });
});
