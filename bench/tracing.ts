/**
 * `npx tsx bench/tracing.ts`: what OpenTelemetry costs. Two probe servers,
 * each in its own process bundled on plain node as production runs: one
 * without an SDK (Cairn's instrumentation over the no-op API) and one with
 * the SDK installed (bench/tracing-server.ts). Writers (64 in flight, each
 * call a span, its metrics and a commit) are measured in slices alternating
 * between the two, in the same run. One JSON line per scenario: the server
 * without an SDK is the baseline of the one with it. A third line,
 * `observe-no-sdk`, is what the instrumentation alone adds to a call when no
 * SDK is registered: `CallTelemetry.observe` around an empty call vs. the
 * empty call, in this process (which registers no SDK).
 * Env: BENCH_SLICES (3), BENCH_SECONDS (4), BENCH_DURABILITY=relaxed (no
 * fsync per write, so the comparison is of CPU rather than of the disk).
 */
import { create } from "@bufbuild/protobuf";
import { ExternalContext } from "../src/index.js";
import { CallTelemetry } from "../src/runtime/call-telemetry.js";
import { EXTERNAL_CALLER, type Call } from "../src/runtime/call.js";
import { RuntimeMetrics } from "../src/runtime/metrics.js";
import { Probe, ProbeSpec } from "../generated/probe/v1/probe_cairn.js";
import { AddRequestSchema } from "../generated/probe/v1/probe_pb.js";
import { startChildServer, type ServerChild } from "./child.js";
import { installSdk } from "./tracing-sdk.js";
import { mergeLoads, round, runLoad, type LoadResult } from "./load.js";
import { emit, log } from "./output.js";

const SLICES = Number(process.env.BENCH_SLICES ?? 3);
const SLICE_SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const IN_FLIGHT = 64;
const ACTORS = 1_000;

interface Side {
  readonly scenario: string;
  readonly server: ServerChild;
  readonly ctx: ExternalContext;
  readonly loads: LoadResult[];
  cpuUs: number;
}

async function slice(side: Side): Promise<void> {
  const before = await side.server.stats();
  const load = await runLoad({
    inFlight: IN_FLIGHT,
    warmupSeconds: 0.5,
    seconds: SLICE_SECONDS,
    maxCalls: 1_000_000,
    call: (i) => Probe.ref(`w-${i % ACTORS}`).unidempotently().add(side.ctx, { amount: 1n }),
  });
  side.cpuUs += (await side.server.stats()).cpuUs - before.cpuUs;
  side.loads.push(load);
}

/**
 * ns per call of an empty async call, bare and observed (best of 5 rounds):
 * with no SDK registered, or (`sdk`) after `installSdk()` in this process.
 */
async function observeOverhead(scenario: string): Promise<object> {
  const ROUNDS = 5;
  const CALLS = 200_000;
  const telemetry = new CallTelemetry(new RuntimeMetrics());
  const method = ProbeSpec.methods.add!;
  const call: Call = { spec: ProbeSpec, method, actorId: "a", request: create(AddRequestSchema, { amount: 1n }) };
  const run = async (_call: Call): Promise<number> => 1;
  const time = async (f: () => Promise<unknown>): Promise<number> => {
    let best = Infinity;
    for (let r = 0; r < ROUNDS; r++) {
      const t0 = performance.now();
      for (let i = 0; i < CALLS; i++) await f();
      best = Math.min(best, ((performance.now() - t0) * 1e6) / CALLS);
    }
    return best;
  };
  const bare = await time(() => run(call));
  const observed = await time(() => telemetry.observe(call, EXTERNAL_CALLER, run));
  return { scenario, bareNsPerCall: round(bare, 1), observedNsPerCall: round(observed, 1), addedNsPerCall: round(observed - bare, 1) };
}

async function main(): Promise<void> {
  emit(await observeOverhead("observe-no-sdk"));
  const servers = await Promise.all([
    startChildServer("tracing-server.ts", ["none"], "tracing-none"),
    startChildServer("tracing-server.ts", ["sdk"], "tracing-sdk"),
  ]);
  const sides: Side[] = servers.map((server, i) => ({
    scenario: i === 0 ? "writer-no-otel-sdk" : "writer-otel-sdk",
    server,
    ctx: new ExternalContext({ url: server.url, timeoutMs: 30_000 }),
    loads: [],
    cpuUs: 0,
  }));
  try {
    for (let n = 0; n < SLICES; n++) {
      // Alternate which goes first, so neither always gets the warmer machine.
      for (const side of n % 2 === 0 ? sides : [...sides].reverse()) {
        log(`slice ${n + 1}/${SLICES}: ${side.scenario}`);
        await slice(side);
      }
    }
    const spans = (await sides[1]!.server.stats()).counters.exportedSpans ?? 0;
    const [base, sdk] = sides.map((s) => ({ side: s, load: mergeLoads(s.loads) })) as [{ side: Side; load: LoadResult }, { side: Side; load: LoadResult }];
    for (const { side, load } of [base, sdk]) {
      const isSdk = side === sdk.side;
      emit({
        scenario: side.scenario,
        durability: process.env.BENCH_DURABILITY === "relaxed" ? "relaxed" : "durable",
        throughput: load.throughput,
        p50Ms: load.p50Ms,
        p99Ms: load.p99Ms,
        calls: load.calls,
        errors: load.errors,
        ...(load.errors > 0 ? { firstError: load.firstError } : {}),
        serverCpuUsPerCall: round(side.cpuUs / Math.max(1, load.calls), 1),
        ...(isSdk
          ? {
              baseline: base.side.scenario,
              vsBaselineThroughput: round(load.throughput / base.load.throughput, 3),
              vsBaselineCpuPerCall: round(side.cpuUs / Math.max(1, load.calls) / (base.side.cpuUs / Math.max(1, base.load.calls)), 3),
              exportedSpans: spans,
            }
          : {}),
      });
    }
  } finally {
    for (const side of sides) side.ctx.close();
    await Promise.all(servers.map((s) => s.stop()));
  }
  // Last: the SDK is process-wide, and the clients above ran without it.
  installSdk();
  emit(await observeOverhead("observe-otel-sdk"));
}

await main();
