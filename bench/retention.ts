/**
 * Retention keeps the data file bounded: `npx tsx bench/retention.ts`
 * (one JSON line per milestone and per run on stdout, progress on stderr).
 *
 * Two server children run the same load, one after the other: `off`
 * (retention off: the baseline) and `on` (ended tasks and idempotency
 * records kept BENCH_RETENTION, default "1s"). The load: one `Loop`
 * workflow running `--iterations` (100,000) iterations, each with one
 * memoized step, while `--ended` (200,000) keyed workflows, each with one
 * memoized step and a progress report, are spawned and end at once. The
 * size of the LMDB data file is printed at every tenth of the load and
 * once the last sweep is done; LMDB reuses the pages deletions free, so
 * with retention on the file stops growing. The spawns' throughput and p99
 * in each run show what the background deletions cost the commits beside them.
 *
 * The servers run bundled JavaScript on plain node, as production would
 * (see child.ts), with `durability: "relaxed"` in both runs: the file's
 * size is measured here, not fsync throughput, and the default run must
 * stay within a few minutes on two cores.
 *
 * Flags: --iterations=N, --ended=N, --only=off|on. Env: BENCH_RETENTION ("1s"),
 * BENCH_SPAWN_IN_FLIGHT (64).
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Application, ExternalContext, Loop, atLeastOnce, hmacTokenVerifier } from "../src/index.js";
import { parseDuration } from "../src/runtime/duration.js";
import { Probe } from "../generated/probe/v1/probe_cairn.js";
import { PROBE_TOKEN_SECRET, ProbeServicerImpl, defineScenario } from "../test/fixtures/probe-servicer.js";
import { serveAsBenchChild, startChildServer, type ServerChild } from "./child.js";
import { round, runLoad } from "./load.js";
import { emit, log, sleep } from "./output.js";

const RETENTION = process.env.BENCH_RETENTION ?? "1s";
const SPAWN_IN_FLIGHT = Number(process.env.BENCH_SPAWN_IN_FLIGHT ?? 64);
/** Bounds every wait of the driver. */
const DEADLINE_MS = 15 * 60_000;

// ---- the server child -----------------------------------------------------

const counters = { iterations: 0, ended: 0 };

// A control loop: one memoized step per iteration, then the next one.
defineScenario("benchLoop", async (ctx, req) => {
  await atLeastOnce("tick", ctx, () => ctx.iteration);
  counters.iterations = ctx.iteration + 1;
  if (ctx.iteration + 1 < Number(req.n)) return new Loop();
  return { result: "looped" };
});

// A short workflow that leaves a memo, events and progress behind.
defineScenario("benchEnded", async (ctx, req) => {
  const v = await atLeastOnce("step", ctx, () => Number(req.n));
  ctx.progress({ location: "done", fraction: 1 });
  counters.ended++;
  return { result: "ended", value: BigInt(v) };
});

async function serve(mode: string, dataDir: string): Promise<void> {
  const retention = mode === "on" ? { tasks: RETENTION, idempotency: RETENTION } : { tasks: false as const, idempotency: false as const };
  const app = new Application({
    servicers: [ProbeServicerImpl],
    dataDir,
    host: "127.0.0.1",
    port: 0,
    tokenVerifier: hmacTokenVerifier(PROBE_TOKEN_SECRET),
    durability: "relaxed",
    retention,
  });
  await app.start();
  serveAsBenchChild(app.port, () => app.stop(), () => ({ ...counters }));
}

// ---- the driver -------------------------------------------------------------

const mb = (bytes: number) => round(bytes / 2 ** 20, 1);
const fileSize = (dataDir: string) => statSync(join(dataDir, "data.mdb")).size;

async function waitCounters(server: ServerChild, what: string, done: (c: Record<string, number>) => boolean): Promise<void> {
  const deadline = performance.now() + DEADLINE_MS;
  for (;;) {
    const { counters: c } = await server.stats();
    if (done(c)) return;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(c)}`);
    await sleep(50);
  }
}

interface ModeResult {
  readonly size: number;
  /** The keyed spawns: their commits share the store with the sweeps' deletions. */
  readonly spawnPerS: number;
  readonly spawnP99Ms: number;
}

/** One run of the whole load on a fresh server. */
async function runMode(mode: "off" | "on", iterations: number, ended: number): Promise<ModeResult> {
  const dataDir = mkdtempSync(join(tmpdir(), `cairn-bench-retention-${mode}-`));
  const server = await startChildServer("retention.ts", ["server", mode, dataDir], `server-retention-${mode}`);
  const ctx = new ExternalContext({ url: server.url });
  const started = performance.now();
  try {
    log(`${mode}: a Loop of ${iterations} iterations and ${ended} ended workflows`);
    const loop = Probe.ref("loop").spawn().run(ctx, { scenario: "benchLoop", n: BigInt(iterations) });
    await loop.started;
    // Milestones: every tenth of the load, by the slower of its two halves.
    let next = 1;
    const milestone = async (): Promise<void> => {
      const { counters: c } = await server.stats();
      const done = Math.min((c.iterations ?? 0) / iterations, (c.ended ?? 0) / Math.max(1, ended));
      while (next <= 10 && done >= next / 10) {
        emit({ scenario: "retention", retention: mode, milestone: `${next * 10}%`, iterations: c.iterations, ended: c.ended, seconds: round((performance.now() - started) / 1000, 1), data_file_mb: mb(fileSize(dataDir)) });
        next++;
      }
    };
    let spawnRate = { spawnPerS: 0, spawnP99Ms: 0 };
    const watcher = setInterval(() => void milestone().catch(() => undefined), 250);
    try {
      const spawns = await runLoad({
        inFlight: SPAWN_IN_FLIGHT,
        warmupSeconds: 0,
        seconds: DEADLINE_MS / 1000,
        maxCalls: ended,
        call: (i) => Probe.ref(`ended-${i}`).idempotently({ key: `ended-${i}` }).spawn().run(ctx, { scenario: "benchEnded", n: BigInt(i) }).started,
      });
      if (spawns.errors > 0) throw new Error(`${spawns.errors} spawns failed: ${spawns.firstError}`);
      spawnRate = { spawnPerS: round(spawns.throughput, 0), spawnP99Ms: round(spawns.p99Ms, 1) };
      await waitCounters(server, "every workflow to end", (c) => (c.ended ?? 0) >= ended && (c.iterations ?? 0) >= iterations);
      await loop;
      await milestone();
    } finally {
      clearInterval(watcher);
    }
    // With retention on, what is left expires RETENTION after the end: wait two sweeps past it.
    if (mode === "on") await sleep(3 * 1000 + 2 * Math.min(60_000, parseDuration(RETENTION)));
    const size = fileSize(dataDir);
    emit({ scenario: "retention", retention: mode, milestone: "end", iterations, ended, seconds: round((performance.now() - started) / 1000, 1), data_file_mb: mb(size), spawn_per_s: spawnRate.spawnPerS, spawn_p99_ms: spawnRate.spawnP99Ms });
    return { size, ...spawnRate };
  } finally {
    ctx.close();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function drive(): Promise<void> {
  const { values } = parseArgs({ options: { iterations: { type: "string" }, ended: { type: "string" }, only: { type: "string" } } });
  const iterations = Number(values.iterations ?? 100_000);
  const ended = Number(values.ended ?? 200_000);
  const modes = values.only ? [values.only as "off" | "on"] : (["off", "on"] as const);
  const runs: Partial<Record<"off" | "on", ModeResult>> = {};
  for (const mode of modes) runs[mode] = await runMode(mode, iterations, ended);
  const { off, on } = runs;
  if (off && on) {
    emit({
      scenario: "retention-summary",
      iterations,
      ended,
      retention: RETENTION,
      off_data_file_mb: mb(off.size),
      on_data_file_mb: mb(on.size),
      on_vs_off: round(on.size / off.size, 3),
      // Deleting in the background must not slow the commits beside it much.
      spawn_throughput_on_vs_off: round(on.spawnPerS / Math.max(1, off.spawnPerS), 2),
      spawn_p99_on_vs_off: round(on.spawnP99Ms / Math.max(0.1, off.spawnP99Ms), 2),
    });
  }
}

if (process.argv[2] === "server") {
  serve(process.argv[3]!, process.argv[4]!).catch((e: unknown) => {
    console.error("bench server:", e);
    process.exit(1);
  });
} else {
  drive().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
