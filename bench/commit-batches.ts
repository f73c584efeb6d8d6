/**
 * `npx tsx bench/commit-batches.ts`: what a durable group commit costs, and
 * why splitting the same calls in flight over two nodes costs more CPU per
 * call (bench/scale-out.ts's writer on 2 pods at 64 in flight). One
 * LmdbStore, as a partition uses it, and `inFlight` writers, each
 * committing one actor's next version and awaiting its durability, as the
 * writer path does. Closed loop: every writer waits for its commit, so a
 * batch holds at most `inFlight` commits, and each batch pays one LMDB
 * commit (page writes, fdatasync, the meta page's synced write) and its
 * thread hand-offs whatever its size. Two nodes at 32 each pay that twice
 * as often per call as one node at 64.
 *
 * One JSON line per in-flight count: commits/s, commits per batch (commits
 * released in one run of the event loop), CPU µs per commit (all threads,
 * process.cpuUsage) and CPU µs per batch.
 *
 * Env: BENCH_IN_FLIGHT (16,32,64,128), BENCH_SECONDS (3 per count),
 * BENCH_ROUNDS (2: the counts in turn, so each sees the same machine load).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "../src/api/logger.js";
import { LmdbStore } from "../src/store/lmdb-store.js";
import { emit, log, runBench } from "./output.js";

const IN_FLIGHTS = (process.env.BENCH_IN_FLIGHT ?? "16,32,64,128").split(",").map(Number);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const ACTORS = 1_000;
const STATE = "bank.v1.Account";

const silent: Logger = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {}, child: () => silent };

interface Measured {
  commits: number;
  batches: number;
  cpuUs: number;
  ms: number;
}

/** `inFlight` writers for `seconds`; writer w owns actors w, w + inFlight, … (no two commit to one actor at once). */
async function measure(store: LmdbStore, versions: number[], inFlight: number, seconds: number): Promise<Measured> {
  let commits = 0;
  let batches = 0;
  let inRun = false;
  const bytes = new Uint8Array(24);
  const end = performance.now() + seconds * 1000;
  const writer = async (w: number): Promise<void> => {
    for (let k = 0; performance.now() < end; k++) {
      const actor = (w + k * inFlight) % ACTORS;
      const base = versions[actor]!;
      await store.commit({ states: [{ stateType: STATE, actorId: `acct-${actor}`, baseVersion: base, state: { version: base + 1, bytes } }], idempotency: [] });
      versions[actor] = base + 1;
      commits++;
      // Commits released by one flush continue in one run of microtasks.
      if (!inRun) {
        inRun = true;
        batches++;
        queueMicrotask(() => (inRun = false));
      }
    }
  };
  const cpu = process.cpuUsage();
  const start = performance.now();
  // Writers past ACTORS would share actors.
  await Promise.all(Array.from({ length: Math.min(inFlight, ACTORS) }, (_, w) => writer(w)));
  const used = process.cpuUsage(cpu);
  return { commits, batches, cpuUs: used.user + used.system, ms: performance.now() - start };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "cairn-commit-batches-"));
  const store = new LmdbStore({ path: dir, logger: silent });
  try {
    const versions = Array.from({ length: ACTORS }, () => 0);
    await measure(store, versions, 64, 1); // warm-up
    const totals = new Map<number, Measured>(IN_FLIGHTS.map((n) => [n, { commits: 0, batches: 0, cpuUs: 0, ms: 0 }]));
    for (let r = 0; r < ROUNDS; r++) {
      for (const n of IN_FLIGHTS) {
        const m = await measure(store, versions, n, SECONDS / ROUNDS);
        const t = totals.get(n)!;
        t.commits += m.commits;
        t.batches += m.batches;
        t.cpuUs += m.cpuUs;
        t.ms += m.ms;
      }
    }
    for (const [inFlight, t] of totals) {
      const line = {
        scenario: "durable-commits",
        inFlight,
        commits: t.commits,
        commitsPerSecond: Math.round((t.commits / t.ms) * 1000),
        commitsPerBatch: Math.round((t.commits / Math.max(1, t.batches)) * 10) / 10,
        cpuUsPerCommit: Math.round((t.cpuUs / Math.max(1, t.commits)) * 10) / 10,
        cpuUsPerBatch: Math.round(t.cpuUs / Math.max(1, t.batches)),
        loadAvg1m: Math.round(loadavg()[0]! * 100) / 100,
      };
      log(`${inFlight} in flight: ${line.commitsPerSecond}/s, ${line.commitsPerBatch} per batch, ${line.cpuUsPerCommit} us CPU per commit, ${line.cpuUsPerBatch} per batch`);
      emit(line);
    }
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

runBench(main);
