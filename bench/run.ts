/**
 * `npm run bench`: one JSON line per scenario on stdout, progress on stderr.
 *
 * The server runs in a child process (bench/server.ts), the load is driven
 * from here over 127.0.0.1 with the same client transport Cairn users get
 * (ExternalContext → createClientTransport, Connect over HTTP/2). Every
 * scenario is compared with a trivial Connect handler on the same one-port
 * server code, measured in this same run, in slices alternating with the
 * scenario's (the machine is shared; alternating slices see the same load).
 *
 * Env: BENCH_SECONDS (default 5, per scenario), BENCH_WARMUP_SECONDS (1),
 * BENCH_SLICES (5),
 * BENCH_CPU_PROF=1 (server .cpuprofile files in $TMPDIR/cairn-bench-profiles/),
 * BENCH_ONLY=comma,separated,scenarios, BENCH_CACHE_ACTORS (100000).
 *
 * Scenarios: baseline, writer-1000-actors, writer-hot-actor, reader,
 * transaction (bench/transactions.ts), cache-bound.
 */
import { once } from "node:events";
import { loadavg } from "node:os";
import { ExternalContext } from "../src/index.js";
import { measureTransactions } from "./transactions.js";
import { Account } from "../generated/bank/v1/account_cairn.js";
import { forkBenchChild, startServer, type ServerChild, type ServerStats } from "./child.js";
import { mergeLoads, round, runLoad, type LoadResult } from "./load.js";
import { emit, log, wanted, runBench } from "./output.js";

const IN_FLIGHT = 64;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 1);
const ACCOUNTS = 1_000;
/** Slices per scenario, alternating with the baseline. */
const SLICES = Number(process.env.BENCH_SLICES ?? 5);
/** Far above what 2 cores can do in one slice; only a safety bound. */
const MAX_CALLS_PER_SLICE = 500_000;

const accountId = (n: number): string => `acct-${n}`;

export interface Measured extends LoadResult {
  serverCpuPct: number;
  serverRssMB: number;
  serverHeapUsedMB: number;
}

/** What one side of a comparison calls; `call` gets a counter that runs across slices. */
export interface Side {
  readonly name: string;
  readonly server: ServerChild;
  readonly call: (n: number) => Promise<unknown>;
}

interface SideState {
  readonly side: Side;
  next: number;
  slices: LoadResult[];
  serverCpuUs: number;
  serverWallMs: number;
  last?: ServerStats;
}

/** One window of load on one side, sampling its server's CPU over the window. */
async function slice(st: SideState, warmupSeconds: number, seconds: number): Promise<void> {
  let before: ServerStats | undefined;
  let after: ServerStats | undefined;
  const r = await runLoad({
    inFlight: IN_FLIGHT,
    warmupSeconds,
    seconds,
    maxCalls: MAX_CALLS_PER_SLICE,
    call: () => st.side.call(st.next++),
    onWindowStart: async () => {
      before = await st.side.server.stats();
    },
    onWindowEnd: async () => {
      after = await st.side.server.stats();
    },
  });
  st.slices.push(r);
  if (before && after) {
    st.serverCpuUs += after.cpuUs - before.cpuUs;
    st.serverWallMs += after.at - before.at;
    st.last = after;
  }
}

function result(st: SideState): Measured {
  const m = mergeLoads(st.slices);
  return {
    ...m,
    serverCpuPct: round((st.serverCpuUs / 1000 / st.serverWallMs) * 100, 1),
    serverRssMB: round((st.last?.rssBytes ?? NaN) / 2 ** 20, 1),
    serverHeapUsedMB: round((st.last?.heapUsedBytes ?? NaN) / 2 ** 20, 1),
  };
}

const newState = (side: Side): SideState => ({ side, next: 0, slices: [], serverCpuUs: 0, serverWallMs: 0 });
const report = (m: Measured, name: string): void =>
  log(`${name}: ${m.throughput} req/s, p50 ${m.p50Ms} ms, p99 ${m.p99Ms} ms, errors ${m.errors}, server CPU ${m.serverCpuPct}%, client CPU ${m.clientCpuPct}%`);

/**
 * Measures `sides` interleaved: each warms up for WARMUP s, then they take
 * turns in SLICES slices of SECONDS/SLICES s each. The machine is shared
 * (other processes come and go), so a scenario and its baseline measured
 * in alternating slices see the same load; one window each would not.
 */
async function measureInterleaved(sides: readonly Side[], warmupSeconds = WARMUP): Promise<Measured[]> {
  const states = sides.map(newState);
  log(`${sides.map((s) => s.name).join(" vs ")}: ${IN_FLIGHT} in flight, ${warmupSeconds} s warm-up, ${SLICES} x ${SECONDS / SLICES} s each`);
  for (const st of states) {
    await slice(st, warmupSeconds, 0); // warm-up only: its measured window is empty
    st.slices.length = 0;
    st.serverCpuUs = 0;
    st.serverWallMs = 0;
  }
  for (let k = 0; k < SLICES; k++) for (const st of states) await slice(st, 0, SECONDS / SLICES);
  const out = states.map(result);
  out.forEach((m, i) => report(m, sides[i]!.name));
  return out;
}

function line(
  scenario: string,
  m: Measured,
  baseline: Measured | undefined,
  target: { text: string; minRatio: number },
  extra: Record<string, unknown> = {},
  extraOk = true,
): object {
  const ratio = baseline ? round(m.throughput / baseline.throughput, 3) : NaN;
  const p99Ratio = baseline ? round(m.p99Ms / baseline.p99Ms, 3) : NaN;
  const { firstError, ...rest } = m;
  return {
    scenario,
    transport: "connect",
    inFlight: IN_FLIGHT,
    seconds: rest.seconds,
    calls: rest.calls,
    errors: rest.errors,
    ...(firstError !== undefined ? { firstError } : {}),
    throughput: rest.throughput,
    p50Ms: rest.p50Ms,
    p99Ms: rest.p99Ms,
    maxMs: rest.maxMs,
    baselineThroughput: baseline?.throughput ?? null,
    baselineP99Ms: baseline?.p99Ms ?? null,
    ratio,
    p99Ratio,
    serverCpuPct: rest.serverCpuPct,
    serverRssMB: rest.serverRssMB,
    serverHeapUsedMB: rest.serverHeapUsedMB,
    clientCpuPct: rest.clientCpuPct,
    slices: SLICES,
    loadAvg1m: round(loadavg()[0]!, 2),
    ...extra,
    target: target.text,
    meetsTarget: baseline !== undefined && m.errors === 0 && ratio >= target.minRatio && p99Ratio <= 2 && extraOk,
  };
}

async function startWithContext(mode: "baseline" | "cairn"): Promise<{ server: ServerChild; ctx: ExternalContext }> {
  const server = await startServer(mode);
  log(`${mode} server pid ${server.pid} on ${server.url}`);
  return { server, ctx: new ExternalContext({ url: server.url, timeoutMs: 30_000 }) };
}

async function stopWithContext(s: { server: ServerChild; ctx: ExternalContext } | undefined): Promise<void> {
  if (!s) return;
  s.ctx.close();
  await s.server.stop();
  log(`server pid ${s.server.pid} stopped`);
}

async function runCacheBound(): Promise<void> {
  log("cache-bound: in-process runtime, maxCachedActors 10,000");
  const child = forkBenchChild("cache-bound.ts", [], "cache-bound", ["--expose-gc"]);
  const pid = child.pid;
  if (pid === undefined) throw new Error("could not fork the cache-bound child");
  let result: object | undefined;
  child.on("message", (m: object) => {
    result = m;
  });
  const timer = setTimeout(() => {
    log(`cache-bound: child ${pid} over 90 s; killing it`);
    process.kill(pid, "SIGKILL");
  }, 90_000);
  const [code] = (await once(child, "exit")) as [number | null];
  clearTimeout(timer);
  if (result) emit(result);
  else emit({ scenario: "cache-bound", error: `child exited with ${code} and no result`, meetsTarget: false });
}

/**
 * Both servers run for the whole network part, each in its own process (an
 * idle one costs nothing). Every Cairn scenario is measured interleaved with
 * the baseline (see measureInterleaved); its line carries that baseline.
 */
async function runNetwork(): Promise<void> {
  const cairnScenarios = ["writer-1000-actors", "writer-hot-actor", "reader", "transaction"].filter(wanted);
  let base: Awaited<ReturnType<typeof startWithContext>> | undefined;
  let cairn: Awaited<ReturnType<typeof startWithContext>> | undefined;
  try {
    base = await startWithContext("baseline");
    const b = base;
    // Same method, header and client as the Cairn scenarios; the handler
    // just answers {balance: 1n}.
    const baselineSide: Side = {
      name: "baseline",
      server: b.server,
      call: (n) => Account.ref(accountId(n % ACCOUNTS)).deposit(b.ctx, { amount: 1n }),
    };
    // The first load of this process also warms the client's JIT: longer warm-up.
    const [first] = await measureInterleaved([baselineSide], Math.max(WARMUP, 3));
    emit(line("baseline", first!, first, { text: "reference: trivial Connect unary handler, same server and client code", minRatio: 1 }));
    if (cairnScenarios.length === 0) return;

    cairn = await startWithContext("cairn");
    const { server, ctx } = cairn;
    log(`opening ${ACCOUNTS} accounts`);
    const opened = await runLoad({
      inFlight: IN_FLIGHT,
      warmupSeconds: 0,
      seconds: 60,
      maxCalls: ACCOUNTS,
      call: (i) => Account.create(ctx, accountId(i), { owner: `owner-${i}`, initial: 0n }),
    });
    if (opened.calls !== ACCOUNTS || opened.errors > 0) {
      throw new Error(`opened ${opened.calls - opened.errors}/${ACCOUNTS} accounts: ${opened.firstError ?? "out of time"}`);
    }
    log(`opened ${ACCOUNTS} accounts at ${opened.throughput}/s (p99 ${opened.p99Ms} ms)`);

    // Deposits acknowledged on account 0, to check the hot actor lost none.
    let depositsOnZero = 0;
    const deposit = async (n: number): Promise<void> => {
      await Account.ref(accountId(n)).deposit(ctx, { amount: 1n });
      if (n === 0) depositsOnZero++;
    };

    // Both writer scenarios and the baseline take turns, so the hot-actor
    // comparison with the 1,000-actor writer sees the same machine load too.
    const writerSides: Side[] = [];
    if (wanted("writer-1000-actors") || wanted("writer-hot-actor")) {
      writerSides.push({ name: "writer-1000-actors", server, call: (n) => deposit(n % ACCOUNTS) });
    }
    if (wanted("writer-hot-actor")) writerSides.push({ name: "writer-hot-actor", server, call: () => deposit(0) });
    if (writerSides.length > 0) {
      const measured = await measureInterleaved([...writerSides, baselineSide]);
      const baseline = measured.at(-1)!;
      const writer1000 = measured[0]!;
      emit(line("writer-1000-actors", writer1000, baseline, { text: ">= 0.7x baseline throughput, p99 <= 2x baseline p99", minRatio: 0.7 }));
      if (wanted("writer-hot-actor")) {
        const hot = measured[1]!;
        const stored = await Account.ref(accountId(0)).balance(ctx);
        const vsWriter1000 = round(hot.throughput / writer1000.throughput, 3);
        const consistent = stored.balance === BigInt(depositsOnZero);
        emit(
          line(
            "writer-hot-actor",
            hot,
            baseline,
            { text: ">= 0.5x writer-1000-actors throughput, p99 <= 2x baseline p99", minRatio: 0 },
            {
              writer1000Throughput: writer1000.throughput,
              vsWriter1000Ratio: vsWriter1000,
              acknowledgedDeposits: depositsOnZero,
              storedBalance: Number(stored.balance),
              consistent,
            },
            vsWriter1000 >= 0.5 && consistent,
          ),
        );
      }
    }
    if (wanted("reader")) {
      const [r, baseline] = (await measureInterleaved([
        { name: "reader", server, call: (n) => Account.ref(accountId(n % ACCOUNTS)).balance(ctx) },
        baselineSide,
      ])) as [Measured, Measured];
      emit(line("reader", r, baseline, { text: ">= 0.8x baseline throughput, p99 <= 2x baseline p99", minRatio: 0.8 }));
    }
    if (wanted("transaction")) {
      emit(await measureTransactions({ server, url: server.url, baselineSide, measureInterleaved, line, log }));
    }
  } finally {
    await stopWithContext(cairn);
    await stopWithContext(base);
  }
}

async function main(): Promise<void> {
  if (["baseline", "writer-1000-actors", "writer-hot-actor", "reader", "transaction"].some(wanted)) await runNetwork();
  if (wanted("cache-bound")) await runCacheBound();
}

runBench(main);
