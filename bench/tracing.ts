/**
 * `npx tsx bench/tracing.ts`: what OpenTelemetry costs. Two probe servers,
 * each in its own process bundled on plain node as production runs: one
 * without an SDK (Cairn's instrumentation over the no-op API) and one with
 * the SDK installed (bench/tracing-server.ts). Writers (64 in flight, each
 * call a span, its metrics and a commit) are measured in slices alternating
 * between the two, in the same run. One JSON line per scenario: the server
 * without an SDK is the baseline of the one with it.
 */
import { ExternalContext } from "../src/index.js";
import { Probe } from "../generated/probe/v1/probe_cairn.js";
import { startChildServer, type ServerChild } from "./child.js";
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

async function main(): Promise<void> {
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
}

await main();
