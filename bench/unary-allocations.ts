/**
 * `npx tsx bench/unary-allocations.ts`: what one unary call costs the
 * server in promises and young-generation bytes, counted, not timed: these
 * numbers do not move with the machine's load, so a before/after shows
 * on a busy machine where µs per call is noise.
 *
 * The bank runs in this process on Application (fast path on, as shipped);
 * a callback-only HTTP/1.1 client (it makes no promises; its bytes are the
 * same for every checkout) sends Connect JSON calls, 64 in flight:
 * - promisesPerCall: async_hooks PROMISE inits per call (with a hook on,
 *   V8 also makes the promise each `await` saves otherwise: compare
 *   checkouts, not with other counts);
 * - youngBytesPerCall: new-space growth per call over runs with no GC in
 *   them (the process re-runs itself with a 256 MB semi-space), client
 *   included; the median of the runs.
 *
 * One JSON line per scenario (writer over 1,000 actors, hot actor, reader)
 * and checkout. Env: BENCH_ONLY=writer,hot,reader; BENCH_BASELINE_REPO=<dir>
 * (a checkout of another commit, its node_modules linked to ours): the same
 * counts of its code, as path "base".
 */
import { execFileSync } from "node:child_process";
import { createHook } from "node:async_hooks";
import * as http from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { PerformanceObserver } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { getHeapSpaceStatistics } from "node:v8";
import { emit, log, runBench, wanted } from "./output.js";

const SCENARIOS = ["writer", "hot", "reader"] as const;
type Scenario = (typeof SCENARIOS)[number];
const ACCOUNTS = 1_000;
const IN_FLIGHT = 64;
const WARMUP_CALLS = 5_000;
const COUNTED_CALLS = 2_000;
const BYTE_RUNS = 8;
const BYTE_RUN_CALLS = 1_000;
const SEMI_SPACE = ["--max-semi-space-size=256", "--min-semi-space-size=256"];

type Request = readonly [path: string, actorId: string, body: string];

const BANK = "/bank.v1.AccountMethods";
const requestOf: Record<Scenario | "open", (i: number) => Request> = {
  open: (i) => [`${BANK}/Open`, `acct-${i}`, JSON.stringify({ owner: "bench", initial: "1000000000" })],
  writer: (i) => [`${BANK}/Deposit`, `acct-${i % ACCOUNTS}`, JSON.stringify({ amount: "1" })],
  hot: () => [`${BANK}/Deposit`, "acct-0", JSON.stringify({ amount: "1" })],
  reader: (i) => [`${BANK}/Balance`, `acct-${i % ACCOUNTS}`, "{}"],
};

/** `count` calls made by `make`, IN_FLIGHT at a time, with callbacks only; rejects if any answer is not 200. */
function calls(port: number, agent: http.Agent, count: number, make: (i: number) => Request): Promise<void> {
  return new Promise((done, fail) => {
    let sent = 0;
    let answered = 0;
    const next = (): void => {
      if (sent >= count) return;
      const [path, actorId, body] = make(sent++);
      const headers = { "content-type": "application/json", "x-cairn-actor-id": actorId, "content-length": Buffer.byteLength(body) };
      const req = http.request({ host: "127.0.0.1", port, method: "POST", path, agent, headers }, (res) => {
        res.on("data", () => {});
        res.on("end", () => {
          if (res.statusCode !== 200) return fail(new Error(`${path}: HTTP ${res.statusCode}`));
          if (++answered === count) done();
          else next();
        });
      });
      req.on("error", fail);
      req.end(body);
    };
    for (let i = 0; i < IN_FLIGHT; i++) next();
  });
}

/** One checkout's counts for one scenario (run in a process started with SEMI_SPACE). */
async function count(repo: string, scenario: Scenario): Promise<{ promisesPerCall: number; youngBytesPerCall: number }> {
  const { Application } = (await import(join(repo, "src/index.ts"))) as typeof import("../src/index.js");
  const { AccountServicerImpl } = (await import(join(repo, "examples/bank/servicer.ts"))) as typeof import("../examples/bank/servicer.js");
  const dataDir = mkdtempSync(join(tmpdir(), "cairn-bench-alloc-"));
  const app = new Application({ servicers: [AccountServicerImpl], dataDir, host: "127.0.0.1", port: 0 });
  await app.start();
  const agent = new http.Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
  try {
    await calls(app.port, agent, ACCOUNTS, requestOf.open);
    await calls(app.port, agent, WARMUP_CALLS, requestOf[scenario]);
    let promises = 0;
    const hook = createHook({ init: (_id, type) => void (type === "PROMISE" && promises++) });
    hook.enable();
    await calls(app.port, agent, COUNTED_CALLS, requestOf[scenario]);
    hook.disable();
    let gcs = 0;
    const observer = new PerformanceObserver((list) => void (gcs += list.getEntries().length));
    observer.observe({ entryTypes: ["gc"] });
    const youngUsed = () => getHeapSpaceStatistics().find((s) => s.space_name === "new_space")!.space_used_size;
    const perCall: number[] = [];
    for (let run = 0; run < BYTE_RUNS; run++) {
      // A GC reported late (the observer's entries come on a later turn) voids its run: wait a little either side.
      await new Promise((r) => setTimeout(r, 50));
      const gcsBefore = gcs;
      const before = youngUsed();
      await calls(app.port, agent, BYTE_RUN_CALLS, requestOf[scenario]);
      const after = youngUsed();
      await new Promise((r) => setTimeout(r, 20));
      if (gcs === gcsBefore && after > before) perCall.push((after - before) / BYTE_RUN_CALLS);
    }
    observer.disconnect();
    if (perCall.length === 0) throw new Error("every run had a GC in it: is the semi-space flag on?");
    perCall.sort((a, b) => a - b);
    return { promisesPerCall: promises / COUNTED_CALLS, youngBytesPerCall: Math.round(perCall[perCall.length >> 1]!) };
  } finally {
    agent.destroy();
    await app.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const HERE = fileURLToPath(import.meta.url);

/** Runs one checkout's count in a child with the big semi-space; its result line on stdout. */
function countInChild(repo: string, scenario: Scenario): { promisesPerCall: number; youngBytesPerCall: number } {
  const out = execFileSync(process.execPath, [...SEMI_SPACE, "--import", "tsx", HERE, "--child", repo, scenario], {
    cwd: repo,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 300_000,
  });
  const line = out
    .split("\n")
    .reverse()
    .find((l) => l.startsWith('{"promisesPerCall"'));
  if (!line) throw new Error(`no result from the ${repo} child`);
  return JSON.parse(line) as { promisesPerCall: number; youngBytesPerCall: number };
}

async function main(): Promise<void> {
  const childAt = process.argv.indexOf("--child");
  if (childAt >= 0) {
    const result = await count(process.argv[childAt + 1]!, process.argv[childAt + 2] as Scenario);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const repos: Array<[path: string, repo: string]> = [["fast", resolve(HERE, "../..")]];
  if (process.env.BENCH_BASELINE_REPO) repos.push(["base", resolve(process.env.BENCH_BASELINE_REPO)]);
  for (const scenario of SCENARIOS.filter(wanted)) {
    for (const [path, repo] of repos) {
      log(`${scenario}/${path}…`);
      const r = countInChild(repo, scenario);
      emit({ bench: "unary-allocations", scenario, path, protocol: "h1-json", inFlight: IN_FLIGHT, ...r, promisesPerCall: Math.round(r.promisesPerCall * 100) / 100 });
    }
  }
}

runBench(main);
