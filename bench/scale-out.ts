/**
 * `npm run bench:scale-out`: the bank's writer (durable deposits over 1,000
 * actors) and reader on one process against M nodes (DESIGN.md §9), from
 * separate load processes (bench/lean-client.ts, Connect JSON over
 * HTTP/1.1 keep-alive, 64 calls in flight in all). One JSON line per
 * scenario on stdout; progress on stderr.
 *
 * Layouts, all running at once and measured in alternating slices so every
 * ratio compares the same machine load:
 * - `m1`: one process, as today (the baseline);
 * - `pods-M`: M processes with their own ports, started as StatefulSet pods
 *   are (CAIRN_POD_NAME, CAIRN_PEER_URL); load client j enters by node j;
 *   route `owner` sends each call to its actor's node, `random` sends every
 *   actor's calls to every node (so (M-1)/M of them are forwarded);
 * - `supervisor-M`: CAIRN_NODES=M, one port shared by the workers (node:cluster
 *   hands each connection to a worker): route `one-port`.
 *
 * Target: the writer on 2 nodes >= 1.3x the writer on one process.
 * Each line also gives the CPU per call of the layout's servers (with a
 * supervisor's workers, from /proc) and of the load processes, and their
 * context switches per call; stderr breaks both down by thread (main
 * thread, libuv pool threads where LMDB commits, V8's workers).
 *
 * Env: BENCH_SECONDS (6 per scenario), BENCH_SLICES (3), BENCH_WARMUP_SECONDS
 * (2), BENCH_NODES (1,2: the M values beside 1, e.g. 2,4), BENCH_IN_FLIGHT
 * (64,256: calls in flight in all, one round each), BENCH_CPU_PROF=1
 * (server profiles, see node-layouts.ts), BENCH_CHILD=tsx (servers under tsx
 * instead of bundled on plain node, bench/child.ts), BENCH_ROUTES (all; e.g.
 * single,owner for m1 and the pods to the owner only: quicker loops; m1 is
 * always measured, every ratio is to it), BENCH_WORKLOADS (writer,reader),
 * BENCH_AB_ROOTS (comma-separated checkouts, e.g. this one and a copy of the
 * code before a change with its node_modules linked to ours: every layout
 * once per checkout, named `<layout>-r<i>`, all measured in the same
 * alternating slices; each ratio is to its own checkout's m1).
 */
import { loadavg } from "node:os";
import { create, toJsonString, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { BalanceRequestSchema, DepositRequestSchema, OpenRequestSchema } from "../generated/bank/v1/account_pb.js";
import type { SpawnedServer } from "../examples/bank/spawn.js";
import { startLayout, stopLayouts, type Layout } from "./node-layouts.js";
import { join } from "node:path";
import { bundleScript, CHILD_RUNTIME } from "./child.js";
import { nodeOfPartition, partitionOf } from "../src/api/partition.js";
import type { RawRequest } from "./lean-client.js";
import { loadResult, startLeanClient, type LeanClient } from "./lean-client-driver.js";
import { loadFields, round, summarize, type LoadResult } from "./load.js";
import { emit, log, runBench } from "./output.js";
import { processTreeCpuUs, processTrees, threadCounters, threadDelta, type ThreadCounters, type ThreadSum } from "./process-cpu.js";

/** Calls in flight in all, per measured round (the issue asks for 64 and 256). */
const IN_FLIGHTS = (process.env.BENCH_IN_FLIGHT ?? "64,256").split(",").map(Number);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const SLICES = Number(process.env.BENCH_SLICES ?? 3);
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const NODE_COUNTS = (process.env.BENCH_NODES ?? "2").split(",").map(Number);
const WORKLOADS = (process.env.BENCH_WORKLOADS ?? "writer,reader").split(",") as Workload[];
const ROUTES = new Set((process.env.BENCH_ROUTES ?? "single,owner,random,one-port").split(","));
const MAX_CALLS = 500_000;
const PROFILING = process.env.BENCH_CPU_PROF !== undefined;
/** Checkouts to compare in one run (BENCH_AB_ROOTS); undefined: this one, as the default layouts run. */
const AB_ROOTS: Array<string | undefined> = process.env.BENCH_AB_ROOTS?.split(",") ?? [undefined];
const ACCOUNTS = 1_000;
const STATE = "bank.v1.Account";
const accountId = (n: number) => `acct-${n}`;
/** The owner of an account with M nodes of one partition each (server/placement.ts). */
const ownerOf = (id: string, nodes: number) => nodeOfPartition(partitionOf(STATE, id, nodes), nodes);

function request<S extends DescMessage>(method: string, schema: S, init: MessageInitShape<S>, id: string): RawRequest {
  const body = Buffer.from(toJsonString(schema, create(schema, init)));
  return { path: `/bank.v1.AccountMethods/${method}`, headers: { "content-type": "application/json", "x-cairn-actor-id": id }, body: body.toString("base64") };
}
const ids = Array.from({ length: ACCOUNTS }, (_, i) => accountId(i));
const SETS = {
  open: (only: string[]) => only.map((id) => request("Open", OpenRequestSchema, { owner: "bench", initial: 0n }, id)),
  writer: (only: string[]) => only.map((id) => request("Deposit", DepositRequestSchema, { amount: 1n }, id)),
  reader: (only: string[]) => only.map((id) => request("Balance", BalanceRequestSchema, {}, id)),
};
type Workload = "writer" | "reader";

/** One load: clients, each on its pool (a port) with its request set (per workload). */
interface Scenario {
  readonly layout: Layout;
  readonly route: "single" | "owner" | "random" | "one-port";
  readonly inFlight: number;
  /** Pool and set names per client, by workload. */
  readonly legs: Array<{ client: LeanClient; pool: string; sets: Record<Workload, string> }>;
}

const port = (s: SpawnedServer) => Number(new URL(s.url).port);

/** Opens `count` clients' pools on the scenario's ports and defines their sets. */
async function scenario(clients: LeanClient[], layout: Layout, route: Scenario["route"], inFlight: number): Promise<Scenario> {
  const legs: Scenario["legs"] = [];
  for (const [j, client] of clients.entries()) {
    const node = j % layout.servers.length;
    const only = route === "owner" ? ids.filter((id) => ownerOf(id, layout.nodes) === node) : ids;
    const pool = `${layout.name}/${route}/${inFlight}/${j}`;
    await client.ask({ type: "open", pool, port: port(layout.servers[node]!), protocol: "h1", inFlight: inFlight / clients.length });
    const sets = { writer: `${pool}/writer`, reader: `${pool}/reader` };
    await client.ask({ type: "define", set: sets.writer, requests: SETS.writer(only) });
    await client.ask({ type: "define", set: sets.reader, requests: SETS.reader(only) });
    legs.push({ client, pool, sets });
  }
  return { layout, route, inFlight, legs };
}

/** Every account opened once, through the layout's first port. */
async function openAccounts(client: LeanClient, layout: Layout): Promise<void> {
  const pool = `${layout.name}/open`;
  await client.ask({ type: "open", pool, port: port(layout.servers[0]!), protocol: "h1", inFlight: 16 });
  await client.ask({ type: "define", set: pool, requests: SETS.open(ids) });
  const opened = loadResult(await client.ask({ type: "load", pool, set: pool, seconds: 120, maxCalls: ACCOUNTS }));
  if (opened.calls !== ACCOUNTS || opened.errors > 0) throw new Error(`${layout.name}: opened ${opened.calls - opened.errors}/${ACCOUNTS}: ${opened.firstError}`);
}

/** Per thread role (threadRole), what it did: CPU µs and context switches. */
type ThreadSums = Map<string, ThreadSum>;

/** A load's result and the CPU its layout's servers used meanwhile, with what each server and load thread did. */
type Measured = LoadResult & { serverCpuUs: number; threads: ThreadSums };

/**
 * A thread's role, stable across readings: `server<i>` (with `/w<pid>` for
 * a supervisor's worker) or `load`, and `main` or the thread's place among
 * its process's other threads by id (node names them all "node": V8's
 * platform workers start first, then libuv's pool, where lmdb-js runs its
 * writes). `servers`: each process of the layout, mapped to its server.
 */
function threadRole(servers: ReadonlyMap<number, number>, roots: readonly number[], all: readonly ThreadCounters[]): (t: ThreadCounters) => string {
  const order = new Map<number, number>();
  for (const pid of new Set(all.map((t) => t.pid))) {
    all.filter((t) => t.pid === pid && t.tid !== pid).sort((a, b) => a.tid - b.tid).forEach((t, i) => order.set(t.tid, i + 1));
  }
  return (t) => {
    const server = servers.get(t.pid);
    const who = server === undefined ? "load" : `server${server}${roots[server] === t.pid ? "" : `/w${t.pid}`}`;
    return `${who}/${t.tid === t.pid ? "main" : `thread${order.get(t.tid) ?? "?"}`}`;
  };
}

function mergeThreads(parts: readonly ThreadSums[]): ThreadSums {
  const out: ThreadSums = new Map();
  for (const part of parts) {
    for (const [role, s] of part) {
      const m = out.get(role) ?? { threads: s.threads, cpuUs: 0, systemUs: 0, voluntary: 0, involuntary: 0 };
      m.cpuUs += s.cpuUs;
      m.systemUs += s.systemUs;
      m.voluntary += s.voluntary;
      m.involuntary += s.involuntary;
      out.set(role, m);
    }
  }
  return out;
}

/** All legs at once for `seconds`: one result over their calls, in the longest leg's window. */
async function run(s: Scenario, workload: Workload, seconds: number): Promise<Measured> {
  const pids = s.layout.servers.map((server) => server.pid);
  const loadPids = s.legs.flatMap((leg) => leg.client.pids);
  const serverProcesses = processTrees(pids);
  const threadsBefore = threadCounters([...serverProcesses.keys(), ...loadPids]);
  const cpuBefore = processTreeCpuUs(pids);
  const from = process.hrtime.bigint() / 1000n;
  const results = await Promise.all(
    s.legs.map(async (leg) => loadResult(await leg.client.ask({ type: "load", pool: leg.pool, set: leg.sets[workload], seconds, maxCalls: MAX_CALLS }))),
  );
  const latencies = Float64Array.from(results.flatMap((r) => Array.from(r.raw.latencies))).sort();
  const windowMs = Math.max(...results.map((r) => r.raw.windowMs));
  const errors = results.reduce((n, r) => n + r.errors, 0);
  const serverCpuUs = processTreeCpuUs(pids) - cpuBefore;
  const threadsAfter = threadCounters([...serverProcesses.keys(), ...loadPids]);
  const threads = threadDelta(threadsBefore, threadsAfter, threadRole(serverProcesses, pids, threadsAfter));
  // The window on the profiles' clock, and each leg's calls: `profile-summary.ts --from --to --calls`.
  if (PROFILING) log(`profile window ${s.layout.name}/${s.route} ${workload}: --from ${from} --to ${process.hrtime.bigint() / 1000n}, calls by leg ${results.map((r) => r.calls).join(",")}`);
  return { ...summarize({ latencies, windowMs, clientCpuUs: results.reduce((n, r) => n + r.raw.clientCpuUs, 0) }, errors, results.find((r) => r.firstError)?.firstError), serverCpuUs, threads };
}

/** Slices of every scenario in turn; each scenario's slices merged. */
async function measure(scenarios: Scenario[], workload: Workload): Promise<Measured[]> {
  for (const s of scenarios) await run(s, workload, WARMUP);
  const slices = scenarios.map(() => [] as Measured[]);
  for (let k = 0; k < SLICES; k++) {
    for (const [i, s] of scenarios.entries()) slices[i]!.push(await run(s, workload, SECONDS / SLICES));
  }
  return slices.map((parts) => {
    const latencies = Float64Array.from(parts.flatMap((r) => Array.from(r.raw.latencies))).sort();
    const windowMs = parts.reduce((n, r) => n + r.raw.windowMs, 0);
    const merged = summarize({ latencies, windowMs, clientCpuUs: parts.reduce((n, r) => n + r.raw.clientCpuUs, 0) }, parts.reduce((n, r) => n + r.errors, 0), parts.find((r) => r.firstError)?.firstError);
    return { ...merged, serverCpuUs: parts.reduce((n, r) => n + r.serverCpuUs, 0), threads: mergeThreads(parts.map((r) => r.threads)) };
  });
}

async function main(): Promise<void> {
  const maxNodes = Math.max(2, ...NODE_COUNTS);
  const clients = Array.from({ length: maxNodes }, () => startLeanClient());
  try {
    /** Each layout with the m1 its ratios are to (its checkout's). */
    const layouts: Array<{ layout: Layout; routes: Scenario["route"][]; m1: Layout }> = [];
    for (const [r, root] of AB_ROOTS.entries()) {
      // A checkout's bank server bundled with its own sources (packages from our node_modules).
      const source = root === undefined ? undefined : bundleScript(join(root, "examples/bank/server.ts"), root);
      const name = (layout: string) => (root === undefined ? layout : `${layout}-r${r}`);
      const m1 = await startLayout(name("m1"), 1, "single", source);
      layouts.push({ layout: m1, routes: ["single"], m1 });
      for (const m of NODE_COUNTS) {
        const podRoutes = (["owner", "random"] as const).filter((route) => ROUTES.has(route));
        if (podRoutes.length > 0) layouts.push({ layout: await startLayout(name(`pods-${m}`), m, "pods", source), routes: podRoutes, m1 });
        if (ROUTES.has("one-port")) layouts.push({ layout: await startLayout(name(`supervisor-${m}`), m, "supervisor", source), routes: ["one-port"], m1 });
      }
    }
    for (const { layout } of layouts) await openAccounts(clients[0]!, layout);
    for (const inFlight of IN_FLIGHTS) {
      const scenarios: Scenario[] = [];
      /** Each scenario's m1 layout. */
      const m1Of: Layout[] = [];
      for (const { layout, routes, m1 } of layouts) {
        // As many load processes as nodes (at least 2), `inFlight` calls in flight in all.
        const count = Math.max(2, layout.nodes);
        for (const route of routes) {
          scenarios.push(await scenario(clients.slice(0, count), layout, route, inFlight));
          m1Of.push(m1);
        }
      }
      for (const workload of WORKLOADS) {
        const results = await measure(scenarios, workload);
        for (const [i, s] of scenarios.entries()) {
          const r = results[i]!;
          const base = results[scenarios.findIndex((other) => other.layout === m1Of[i])]!;
          const vsM1 = round(r.throughput / base.throughput, 3);
          const target = workload === "writer" && s.layout.nodes === 2 && s.route !== "random" ? { target: ">= 1.3x m1 writer", meetsTarget: vsM1 >= 1.3 && r.errors === 0 } : {};
          log(`${workload} ${s.layout.name}/${s.route} @${inFlight}: ${r.throughput}/s p99 ${r.p99Ms} ms (${vsM1}x m1), server ${round(r.serverCpuUs / Math.max(1, r.calls), 1)} us/call`);
          const perCall = (n: number) => round(n / Math.max(1, r.calls), 3);
          for (const [role, t] of [...r.threads].sort(([a], [b]) => a.localeCompare(b))) {
            if (t.voluntary + t.involuntary < r.calls / 100 && t.cpuUs < r.calls) continue;
            log(`  ${role}: ${perCall(t.cpuUs)} us/call (${perCall(t.systemUs)} system), switches/call voluntary ${perCall(t.voluntary)} involuntary ${perCall(t.involuntary)}`);
          }
          const switches = (which: "server" | "load") => {
            const mine = [...r.threads].filter(([role]) => role.startsWith(which === "server" ? "server" : "load"));
            return perCall(mine.reduce((n, [, t]) => n + t.voluntary + t.involuntary, 0));
          };
          emit({
            scenario: `${workload}-1000-actors`,
            layout: s.layout.name,
            nodes: s.layout.nodes,
            route: s.route,
            protocol: "h1-json",
            // How the servers ran: "bundled" on plain node (production's way) or "tsx" (BENCH_CHILD=tsx).
            serverRuntime: CHILD_RUNTIME,
            inFlight,
            loadProcesses: s.legs.length,
            ...loadFields(r),
            maxMs: r.maxMs,
            serverCpuUsPerCall: round(r.serverCpuUs / Math.max(1, r.calls), 1),
            clientCpuUsPerCall: round(r.raw.clientCpuUs / Math.max(1, r.calls), 1),
            serverCpuPct: round((r.serverCpuUs / 1000 / r.raw.windowMs) * 100, 1),
            clientCpuPct: r.clientCpuPct,
            // Context switches per call, every thread of the servers (a supervisor's workers too) and of the load processes.
            serverSwitchesPerCall: switches("server"),
            clientSwitchesPerCall: switches("load"),
            m1Throughput: base.throughput,
            vsM1: vsM1,
            slices: SLICES,
            loadAvg1m: round(loadavg()[0]!, 2),
            ...target,
          });
        }
      }
    }
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await stopLayouts();
  }
}

runBench(main);
