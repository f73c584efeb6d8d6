// Smaller promises, each checked with real processes where that is cheap:
// `cairn tasks show` numbers the attempt as the history does; the insecure
// development mode warning names the servicers it leaves open, and only
// then; the example clients take their URL the same way (`[URL]` or
// `--url URL`) and answer bad usage with one line and exit 2.
import { CLI_TEST_TIMEOUT_MS, runCli, runScript } from "./fixtures/cli-process.js";
import { closedPort } from "./fixtures/closed-port.js";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { hmacTokenVerifier, sleep, type Authorizer } from "@cairn-dev/cairn";
import { TestApplication } from "@cairn-dev/cairn/testing";
import { Probe } from "../generated/probe/v1/probe_cairn.js";
import { AccountServicerImpl, BANK_TOKEN_SECRET } from "../examples/bank/servicer.js";
import { CounterServicerImpl } from "../examples/counter/servicer.js";
import { ProbeServicerImpl, defineScenario } from "./fixtures/probe-servicer.js";
import { within } from "./fixtures/waiting.js";
import { taskWhen, tasksClient } from "./fixtures/tasks-client.js";
import { recordingLogger } from "./fixtures/recording-logger.js";


vi.setConfig({ testTimeout: CLI_TEST_TIMEOUT_MS, hookTimeout: CLI_TEST_TIMEOUT_MS });

/** One line, no stack trace. */
function expectOneLine(text: string): void {
  expect(text.trim().split("\n"), text).toHaveLength(1);
  expect(text).not.toMatch(/^\s+at /m);
}

// ---- cairn tasks show: attempt ------------------------------------------------

const runs = new Map<string, number>();
defineScenario("failsOnce", async (ctx) => {
  const n = (runs.get(ctx.actorId) ?? 0) + 1;
  runs.set(ctx.actorId, n);
  if (n === 1) throw new Error("first run fails");
  return { result: "second run" };
});
defineScenario("napsOnce", async (ctx) => {
  await sleep("nap", ctx, "1h");
  return { result: "rested" };
});

describe("cairn tasks show", () => {
  let app: TestApplication;
  beforeAll(async () => {
    app = await TestApplication.start({ servicers: [ProbeServicerImpl], retry: { initialMs: 10, multiplier: 1, maxMs: 10 } });
  });
  afterAll(async () => {
    await app?.stop();
  });

  /** The attempt row and the attempt of every "started" event in the history. */
  async function attempts(taskId: string): Promise<{ shown: number; started: number[] }> {
    const { code, stdout } = await runCli(["tasks", "show", taskId, "--url", app.url]);
    expect(code, stdout).toBe(0);
    const shown = /^attempt\s+(\d+)$/m.exec(stdout);
    expect(shown, stdout).not.toBeNull();
    const started = [...stdout.matchAll(/started\s+iteration \d+, attempt (\d+)/g)].map((m) => Number(m[1]));
    return { shown: Number(shown![1]), started };
  }

  it("says the attempt the history says, first time, after a retry and after a suspension", async () => {
    const ctx = app.context();
    const first = Probe.ref("show-napped").spawn().run(ctx, { scenario: "napsOnce" });
    await first.started;
    const later = app.clock.now() + 1_800_000;
    await taskWhen(tasksClient(app.url), first.taskId, (info) => Number(info.runAtMs) > later, "the nap");
    app.clock.advance("1h");
    await within(first);
    const retried = Probe.ref("show-retried").spawn().run(ctx, { scenario: "failsOnce" });
    await within(retried);

    const napped = await attempts(first.taskId);
    expect(napped.started).toEqual([1, 1]); // a suspension is not a failed attempt
    expect(napped.shown).toBe(1);
    const again = await attempts(retried.taskId);
    expect(again.started).toEqual([1, 2]);
    expect(again.shown).toBe(2);
  });
});

// ---- the insecure development mode warning ----------------------------------

class OpenProbe extends ProbeServicerImpl {
  override authorizer(): Authorizer<Probe> | undefined {
    return undefined;
  }
}

describe("insecureDevelopmentMode's warning", () => {
  async function warningsOf(servicers: ConstructorParameters<typeof Object>[0][]): Promise<string[]> {
    const log = recordingLogger();
    const app = await TestApplication.start({ servicers: servicers as never, insecureDevelopmentMode: true, logger: log.logger });
    await app.stop();
    return log.records.filter((r) => r.level === "warn").map((r) => r.msg);
  }

  it("names the servicers without an authorizer", async () => {
    const lines = await warningsOf([OpenProbe, CounterServicerImpl]);
    const insecure = lines.filter((l) => l.includes("INSECURE DEVELOPMENT MODE"));
    expect(insecure).toHaveLength(1);
    expect(insecure[0]).toContain("probe.v1.Probe (no authorizer)");
    expect(insecure[0]).not.toContain("counter.v1.Counter");
  });

  it("is not printed when every servicer has an authorizer", async () => {
    const lines = await warningsOf([ProbeServicerImpl, CounterServicerImpl]);
    expect(lines.filter((l) => l.includes("INSECURE DEVELOPMENT MODE"))).toEqual([]);
    // What the mode still opens is said, plainly.
    expect(lines.some((l) => l.includes("operator calls"))).toBe(true);
  });
});

// ---- the example clients ---------------------------------------------------

describe("the example clients take [URL] or --url URL", () => {
  let counterApp: TestApplication;
  let bankApp: TestApplication;
  beforeAll(async () => {
    counterApp = await TestApplication.start({ servicers: [CounterServicerImpl] });
    bankApp = await TestApplication.start({ servicers: [AccountServicerImpl], tokenVerifier: hmacTokenVerifier(BANK_TOKEN_SECRET) });
  });
  afterAll(async () => {
    await counterApp?.stop();
    await bankApp?.stop();
  });

  const COUNTER = "examples/counter/client.ts";
  const BANK = "examples/bank/client.ts";

  it("counter: both forms work", async () => {
    const positional = await runScript(COUNTER, [counterApp.url, "--counter", "forms"]);
    expect(positional, positional.stderr).toMatchObject({ code: 0, stdout: "forms = 1\n" });
    const flag = await runScript(COUNTER, ["--url", counterApp.url, "--counter", "forms", "--by", "2"]);
    expect(flag, flag.stderr).toMatchObject({ code: 0, stdout: "forms = 3\n" });
  });

  it("bank: both forms work", async () => {
    const both = await Promise.all([[bankApp.url], ["--url", bankApp.url]].map((args) => runScript(BANK, args)));
    for (const run of both) {
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain("bank example: all steps passed");
    }
  });

  it("bad usage is one line and exit 2, for both", async () => {
    const cases: Array<[string, string[], string]> = [
      [COUNTER, ["--bogus"], "'--bogus'"],
      [COUNTER, [counterApp.url, "--url", "http://127.0.0.1:1"], "two URLs"],
      [COUNTER, [counterApp.url, "--by", "lots"], "--by must be an integer"],
      [BANK, ["--port", "1"], "'--port'"],
      [BANK, ["ftp://127.0.0.1/"], "not an http(s) URL"],
    ];
    const results = await Promise.all(cases.map(([script, args]) => runScript(script, args)));
    for (const [i, [script, args, why]] of cases.entries()) {
      const run = results[i]!;
      expect(run.code, `${script} ${args.join(" ")}: ${run.stderr}`).toBe(2);
      expectOneLine(run.stderr);
      expect(run.stderr).toContain(why);
      expect(run.stderr).toContain(`usage: npx tsx ${script}`);
    }
  });

  it("an unreachable server is one line and exit 1", async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const run = await runScript(COUNTER, [url]);
    expect(run.code).toBe(1);
    expectOneLine(run.stderr);
    expect(run.stderr).toContain("counter client:");
  });
});
