/**
 * Suspended waiting: `npx tsx bench/suspended.ts` (one JSON line per
 * scenario on stdout, progress on stderr).
 *
 * BENCH_WAITING workflows (100,000) are spawned over 127.0.0.1 against a
 * server child; each waits in `until` for the flag of one shared gate actor
 * (read through its reader). Once all of them wait and the server's RSS
 * has settled (see `settled`), its memory is read. The server child runs
 * bundled JavaScript on plain node, as production would (BENCH_CHILD=tsx:
 * under tsx, ~45 MB more; see child.ts). Baselines: the same server idle
 * before the first spawn, and, on a fresh server first, the same burst of
 * spawns of workflows that end at once (what the burst alone leaves in RSS).
 * Then one `setFlag` commit on the gate wakes them all; the line gives the
 * time from that commit's reply until every workflow has come out of its
 * `until`.
 *
 * Env: BENCH_WAITING (100000), BENCH_SPAWN_IN_FLIGHT (256), BENCH_MAX_RUNNING (the
 * application's maxRunningTasks; default its default), BENCH_SETTLE_MS (180000:
 * the longest wait for RSS to settle), BENCH_WAIT=sleep (they wait in a 1-hour
 * durable sleep instead: memory only, a `suspended-sleep` line), BENCH_BASELINE=0
 * (skip the baseline burst), BENCH_NODE_FLAGS (extra node flags for the server
 * child, e.g. "--max-semi-space-size=4"), BENCH_CHILD (bundled | tsx).
 */
import { ExternalContext, sleep as durableSleep, until } from "../src/index.js";
import { Probe } from "../generated/probe/v1/probe_cairn.js";
import { defineScenario } from "../test/fixtures/probe-servicer.js";
import { serveProbeApplication } from "./probe-server.js";
import { CHILD_RUNTIME, startChildServer, type ServerChild, type ServerStats } from "./child.js";
import { round, runLoad } from "./load.js";
import { log, sleep } from "./output.js";

const WAITING = Number(process.env.BENCH_WAITING ?? 100_000);
const SPAWN_IN_FLIGHT = Number(process.env.BENCH_SPAWN_IN_FLIGHT ?? 256);
/** "until" (default) or "sleep": what the workflows wait in. A sleep is not woken. */
const WAIT = process.env.BENCH_WAIT ?? "until";
/** The longest wait for memory to settle after the spawns. */
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 180_000);
const MIN_SETTLE_MS = Math.min(SETTLE_MS, 60_000);
const GATE = "gate";
/** Bounds every wait of the driver. */
const DEADLINE_MS = 20 * 60_000;

const mb = (bytes: number) => round(bytes / 2 ** 20, 1);

// ---- the server child -----------------------------------------------------

/** Counted in the server child, reported with its stats. */
const counters = { runs: 0, woken: 0, completed: 0 };

defineScenario("benchGate", async (ctx) => {
  counters.runs++;
  await until(GATE, ctx, async () => (await Probe.ref(GATE).get(ctx)).flag);
  counters.woken++;
  return { result: "through" };
});

// Waits in a durable sleep instead (BENCH_WAIT=sleep): its timer, not a watch.
defineScenario("benchSleep", async (ctx) => {
  counters.runs++;
  await durableSleep("nap", ctx, "1h");
  counters.woken++;
  return { result: "rested" };
});

// The baseline's workflow: the same spawn, no wait.
defineScenario("benchDone", async () => {
  counters.runs++;
  counters.completed++;
  return { result: "done" };
});

function serve(): Promise<void> {
  const maxRunningTasks = process.env.BENCH_MAX_RUNNING ? Number(process.env.BENCH_MAX_RUNNING) : undefined;
  return serveProbeApplication("suspended", { maxRunningTasks }, () => ({ ...counters }));
}

// ---- the driver -------------------------------------------------------------

async function until_(server: ServerChild, what: string, done: (s: ServerStats) => boolean): Promise<ServerStats> {
  const deadline = performance.now() + DEADLINE_MS;
  for (;;) {
    const s = await server.stats();
    if (done(s)) return s;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(s.counters)}`);
    await sleep(20);
  }
}

/** A fresh server child, its idle memory, and N spawns of `scenario` over the network. */
async function spawnAll(scenario: string): Promise<{ server: ServerChild; ctx: ExternalContext; idle: ServerStats; spawnSeconds: number }> {
  const server = await startChildServer("suspended.ts", ["server"], "server-suspended", 30_000, [
    "--expose-gc",
    ...(process.env.BENCH_NODE_FLAGS?.split(" ").filter(Boolean) ?? []),
  ]);
  const ctx = new ExternalContext({ url: server.url });
  await Probe.ref(GATE).unidempotently().setFlag(ctx, { flag: false });
  await sleep(500);
  const idle = await server.stats(true);
  log(`${scenario}: idle server rss ${mb(idle.rssBytes)} MB; spawning ${WAITING} workflows`);
  const spawnStart = performance.now();
  const spawns = await runLoad({
    inFlight: SPAWN_IN_FLIGHT,
    warmupSeconds: 0,
    seconds: DEADLINE_MS / 1000,
    maxCalls: WAITING,
    call: (i) => Probe.ref(`waiter-${i}`).spawn().run(ctx, { scenario }).started,
  });
  if (spawns.errors > 0) throw new Error(`${spawns.errors} spawns failed: ${spawns.firstError}`);
  const spawnSeconds = (performance.now() - spawnStart) / 1000;
  log(`${scenario}: spawned in ${round(spawnSeconds, 1)} s`);
  await until_(server, "every first run", (s) => s.counters.runs! >= WAITING);
  return { server, ctx, idle, spawnSeconds };
}

/**
 * The steady state after a burst. V8's memory reducer and the allocator give
 * back what a burst grew over tens of seconds (measured: 326 MB RSS 10 s
 * after the last spawn, 212 MB after 120 s; it gives back in steps, the
 * first often after 10-20 s), so memory is read after at least a minute,
 * once RSS has stopped falling: four reads 5 s apart, each after a full GC,
 * within 2 MB of each other; or after BENCH_SETTLE_MS.
 */
async function settled(server: ServerChild): Promise<ServerStats> {
  const start = performance.now();
  const reads: ServerStats[] = [];
  for (;;) {
    await sleep(5_000);
    reads.push(await server.stats(true));
    const last = reads.slice(-4).map((r) => r.rssBytes);
    const waited = performance.now() - start;
    log(`settling: rss ${mb(last[last.length - 1]!)} MB after ${round(waited / 1000, 0)} s`);
    if (waited >= MIN_SETTLE_MS && last.length === 4 && Math.max(...last) - Math.min(...last) < 2 * 2 ** 20) break;
    if (waited > SETTLE_MS) break;
  }
  return reads[reads.length - 1]!;
}

const memoryOf = (prefix: string, s: ServerStats) => ({
  [`${prefix}_rss_mb`]: mb(s.rssBytes),
  [`${prefix}_heap_mb`]: mb(s.heapUsedBytes),
  [`${prefix}_heap_total_mb`]: mb(s.memory.heapTotal),
  [`${prefix}_rss_anon_mb`]: mb(s.memory.rssAnon),
  [`${prefix}_rss_file_mb`]: mb(s.memory.rssFile),
  [`${prefix}_external_mb`]: mb(s.memory.external),
});

/** The baseline: the same burst of spawns, each workflow ending at once, on its own server. */
async function baselineBurst(): Promise<ServerStats> {
  const base = await spawnAll("benchDone");
  try {
    await until_(base.server, "every baseline workflow to complete", (s) => s.counters.completed! >= WAITING);
    return await settled(base.server);
  } finally {
    base.ctx.close();
    await base.server.stop();
  }
}

async function drive(): Promise<void> {
  // What the burst alone leaves in RSS (BENCH_BASELINE=0 skips it).
  let burst: ServerStats | undefined;
  if (process.env.BENCH_BASELINE !== "0") burst = await baselineBurst();

  const { server, ctx, idle, spawnSeconds } = await spawnAll(WAIT === "sleep" ? "benchSleep" : "benchGate");
  try {
    const waiting = await settled(server);
    if (WAIT === "sleep") {
      const line = { scenario: "suspended-sleep", waiting: WAITING, server: CHILD_RUNTIME, ...memoryOf("idle", idle), ...memoryOf("waiting", waiting), ...(burst ? memoryOf("baseline_burst", burst) : {}) };
      process.stdout.write(`${JSON.stringify(line)}\n`);
      return;
    }
    const t0 = performance.now();
    await Probe.ref(GATE).unidempotently().setFlag(ctx, { flag: true });
    const woken = await until_(server, "every workflow to wake", (s) => s.counters.woken! >= WAITING);
    const wakeMs = woken.at - t0;
    const after = await server.stats(true);
    log(`woken in ${round(wakeMs, 0)} ms`);

    process.stdout.write(
      `${JSON.stringify({
        scenario: "suspended-until",
        waiting: WAITING,
        server: CHILD_RUNTIME,
        spawn_per_s: round(WAITING / spawnSeconds, 0),
        ...memoryOf("idle", idle),
        ...memoryOf("waiting", waiting),
        ...(burst ? memoryOf("baseline_burst", burst) : {}),
        heap_bytes_per_waiting_task: round((waiting.heapUsedBytes - idle.heapUsedBytes) / WAITING, 0),
        ...(burst ? { rss_over_baseline_mb: mb(waiting.rssBytes - burst.rssBytes) } : {}),
        target_rss_mb: 200,
        wake_all_ms: round(wakeMs, 0),
        wake_per_s: round(WAITING / (wakeMs / 1000), 0),
        rss_after_wake_mb: mb(after.rssBytes),
        reruns_per_task: round((woken.counters.runs! - WAITING) / WAITING, 2),
      })}\n`,
    );
  } finally {
    ctx.close();
    await server.stop();
  }
}

if (process.argv[2] === "server") {
  serve().catch((e: unknown) => {
    console.error("bench server:", e);
    process.exit(1);
  });
} else {
  drive().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
