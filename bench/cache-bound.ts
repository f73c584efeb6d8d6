/**
 * The `cache-bound` scenario, in its own process (started by bench/run.ts
 * with --expose-gc so heap samples are taken after a full GC): creates
 * 100,000 distinct Account actors, once each, through the runtime's
 * in-process path (Runtime + LmdbStore, no network), and samples the heap
 * every 10,000 actors. With `maxCachedActors: 10_000` the heap must stop
 * growing once the cache is full.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { createRuntime } from "../src/server/create-runtime.js";
import { defaultLogger } from "../src/server/default-logger.js";
import { EXTERNAL_CALLER } from "../src/runtime/context-impl.js";
import { LmdbStore } from "../src/store/lmdb-store.js";
import { AccountServicerImpl } from "../examples/bank/servicer.js";
import { AccountSpec } from "../generated/bank/v1/account_cairn.js";
import { BalanceRequestSchema, OpenRequestSchema, type BalanceResponse } from "../generated/bank/v1/account_pb.js";
import { round, runLoad } from "./load.js";

const ACTORS = Number(process.env.BENCH_CACHE_ACTORS ?? 100_000);
const MAX_CACHED = 10_000;
const CHUNK = 10_000;
const IN_FLIGHT = 256;
/** Whole scenario budget; each chunk gets an equal share. */
const BUDGET_SECONDS = 50;

const gc = (globalThis as { gc?: () => void }).gc;
const heapMB = (): number => {
  gc?.();
  gc?.();
  return round(process.memoryUsage().heapUsed / 2 ** 20, 1);
};
const rssMB = (): number => round(process.memoryUsage().rss / 2 ** 20, 1);

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), "cairn-bench-cache-"));
  const logger = defaultLogger();
  const store = new LmdbStore({ path: dataDir, logger });
  const runtime = createRuntime(store, [AccountServicerImpl], { maxCachedActors: MAX_CACHED, logger });
  const open = AccountSpec.methods.open!;
  const balance = AccountSpec.methods.balance!;
  const idOf = (n: number): string => `cache-${n}`;
  try {
    const heapBefore = heapMB();
    const rssBefore = rssMB();
    const samples: { actors: number; heapMB: number; cachedActors: number }[] = [];
    let written = 0;
    let errors = 0;
    let firstError: string | undefined;
    const t0 = performance.now();
    const chunkSeconds = BUDGET_SECONDS / Math.ceil(ACTORS / CHUNK);
    while (written < ACTORS) {
      const base = written;
      const n = Math.min(CHUNK, ACTORS - written);
      const r = await runLoad({
        inFlight: IN_FLIGHT,
        warmupSeconds: 0,
        seconds: chunkSeconds,
        maxCalls: n,
        call: (i) =>
          runtime.execute(
            { spec: AccountSpec, method: open, actorId: idOf(base + i), request: create(OpenRequestSchema, { owner: `o${base + i}`, initial: 1n }) },
            EXTERNAL_CALLER,
          ),
      });
      written += r.calls;
      errors += r.errors;
      firstError ??= r.firstError;
      samples.push({ actors: written, heapMB: heapMB(), cachedActors: runtime.cachedActors });
      process.stderr.write(`bench: cache-bound ${written}/${ACTORS} actors, ${r.throughput}/s, heap ${samples.at(-1)!.heapMB} MB\n`);
      if (r.calls < n) break; // out of time: report what was measured
    }
    const seconds = (performance.now() - t0) / 1000;
    // An evicted actor reads back from the store.
    const back = (await runtime.execute(
      { spec: AccountSpec, method: balance, actorId: idOf(0), request: create(BalanceRequestSchema) },
      EXTERNAL_CALLER,
    )) as BalanceResponse;
    const heapAfter = samples.at(-1)!.heapMB;
    const full = samples.find((s) => s.actors >= MAX_CACHED) ?? samples[0]!;
    // Bound holds if, after the cache filled, the heap grew by less than it
    // did while filling (linear growth would add 9x that for 100k actors).
    const fillGrowth = full.heapMB - heapBefore;
    const afterFullGrowth = heapAfter - full.heapMB;
    const perActorKB = written > 0 ? round(((heapAfter - heapBefore) * 1024) / written, 3) : NaN;
    const bounded = runtime.cachedActors <= MAX_CACHED && afterFullGrowth < Math.max(fillGrowth, 5);
    const evictedReadOk = back.owner === idOf(0).replace("cache-", "o") && back.balance === 1n;
    const line = {
      scenario: "cache-bound",
      transport: "in-process",
      inFlight: IN_FLIGHT,
      seconds: round(seconds, 3),
      actorsWritten: written,
      actorsTarget: ACTORS,
      errors,
      ...(firstError !== undefined ? { firstError } : {}),
      throughput: round(written / seconds, 1),
      maxCachedActors: MAX_CACHED,
      cachedActors: runtime.cachedActors,
      heapUsedBeforeMB: heapBefore,
      heapUsedAtCacheFullMB: full.heapMB,
      heapUsedAfterMB: heapAfter,
      heapGrowthWhileFillingMB: round(fillGrowth, 1),
      heapGrowthAfterFullMB: round(afterFullGrowth, 1),
      heapPerActorWrittenKB: perActorKB,
      heapIfLinearMB: round(heapBefore + (fillGrowth * written) / Math.max(1, full.actors), 1),
      rssBeforeMB: rssBefore,
      rssAfterMB: rssMB(),
      heapSamplesMB: samples.map((s) => s.heapMB),
      gcExposed: gc !== undefined,
      evictedReadOk,
      target: `cachedActors <= ${MAX_CACHED}; heap growth after the cache is full < growth while filling; ${ACTORS} actors in < 60 s`,
      meetsTarget: bounded && evictedReadOk && errors === 0 && written === ACTORS,
    };
    process.send?.(line);
  } finally {
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error("bench cache-bound:", e);
    process.exit(1);
  },
);
