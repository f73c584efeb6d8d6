/**
 * `npm run bench:unary`: unary calls against the machine's floor, with a
 * load client that is not the bottleneck (bench/lean-client.ts, its own
 * process, pre-encoded requests, 64 in flight). One JSON line per
 * scenario, protocol and server path on stdout; progress on stderr.
 *
 * Servers (each its own process, bundled on plain node as production runs):
 * - floor: bare node:http / node:http2 answering a fixed body;
 * - trivial: a Connect handler answering {balance: 1} (bench/server.ts baseline);
 * - cairn "fast": Application as shipped (unary fast path on);
 * - cairn "connect": the same with `fastUnaryPath: false`: the "before".
 *
 * Scenarios, over HTTP/1.1 Connect JSON and HTTP/2 Connect binary: durable
 * writer over 1,000 actors, hot actor, reader, 10-step workflow, transaction
 * between two actors. Each group of sides is measured in alternating slices
 * with its own floor, so ratios compare the same machine load.
 *
 * Targets: writer and reader (fast) >= 0.5x the floor; the hot actor >=
 * 0.9x the 1,000-actor writer; p99 <= 3x the floor's p99.
 *
 * Env: BENCH_CLIENTS (2 lean client processes sharing the 64 calls),
 * BENCH_H2_SESSIONS (4 HTTP/2 connections over them), BENCH_SECONDS (4, per side and group), BENCH_SLICES (4),
 * BENCH_WARMUP_SECONDS (2), BENCH_CPU_PROF=1 (server profiles, see child.ts),
 * BENCH_ONLY=h1-json,h2-binary (protocols), BENCH_GROUPS=writers,reader,workflow-10-steps,transaction
 * (e.g. one group alone for a profile), BENCH_PATHS=fast (Cairn's sides on
 * these server paths only, e.g. to profile the fast path alone; the floor
 * always runs), BENCH_BASELINE_REPO=<dir> (a checkout of another commit, its
 * node_modules linked to ours: its Cairn server, fast path on, is measured
 * too as path "base", interleaved with this one, for a before/after on
 * the same machine load).
 */
import { loadavg } from "node:os";
import { create, toBinary, toJsonString, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { signHmacToken } from "../src/index.js";
import { BANK_TOKEN_SECRET } from "../examples/bank/servicer.js";
import {
  BalanceRequestSchema,
  DepositRequestSchema,
  OpenRequestSchema,
  TransferRequestSchema,
} from "../generated/bank/v1/account_pb.js";
import { RunRequestSchema } from "../generated/probe/v1/probe_pb.js";
import { startServer, type ServerChild } from "./child.js";
import type { Protocol, RawRequest } from "./lean-client.js";
import { loadResult, startLeanClients, type LeanClient } from "./lean-client-driver.js";
import { loadFields, mergeLoads, round, type LoadResult } from "./load.js";
import { emit, log, wanted, runBench } from "./output.js";

const IN_FLIGHT = 64;
/** Lean client processes, and HTTP/2 sessions over all of them (one process with one session was the HTTP/2 floor's limit). */
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 2);
const H2_SESSIONS = Number(process.env.BENCH_H2_SESSIONS ?? 4);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const SLICES = Number(process.env.BENCH_SLICES ?? 4);
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const MAX_CALLS_PER_SLICE = 500_000;
const ACCOUNTS = 1_000;
const OWNER = "bench-owner";
const accountId = (n: number): string => `acct-${n}`;
const GROUPS = process.env.BENCH_GROUPS?.split(",").map((g) => g.trim());
const group = (name: string): boolean => !GROUPS || GROUPS.includes(name);
const PATHS = process.env.BENCH_PATHS?.split(",").map((p) => p.trim());
const BASELINE_REPO = process.env.BENCH_BASELINE_REPO;
/** Cairn's server paths: this checkout with and without the fast path, and the baseline's. */
type CairnPath = "fast" | "connect" | "base";
const CAIRN_PATHS: readonly CairnPath[] = ["fast", "connect", ...(BASELINE_REPO ? (["base"] as const) : [])];
const onPath = (side: Side): boolean => side.path === "floor" || !PATHS || PATHS.includes(side.path);

// ---- the lean client child: lean-client-driver.ts ----------------------------------

type Client = LeanClient;

// ---- requests, pre-encoded per wire format ---------------------------------------

type Format = "h1-json" | "h2-binary";
const PROTOCOL: Record<Format, Protocol> = { "h1-json": "h1", "h2-binary": "h2" };

function request<S extends DescMessage>(format: Format, path: string, schema: S, init: MessageInitShape<S>, headers: Record<string, string>): RawRequest {
  const message = create(schema, init);
  const body = format === "h1-json" ? Buffer.from(toJsonString(schema, message)) : Buffer.from(toBinary(schema, message));
  const contentType = format === "h1-json" ? "application/json" : "application/proto";
  return { path, headers: { "content-type": contentType, ...headers }, body: body.toString("base64") };
}

const BANK = "/bank.v1.AccountMethods";
const actor = (id: string) => ({ "x-cairn-actor-id": id });
const ownerAuth = { authorization: `Bearer ${signHmacToken({ sub: OWNER }, BANK_TOKEN_SECRET)}` };

/** xorshift32: a fixed set of distinct account pairs for transfers. */
function pairs(count: number): Array<[number, number]> {
  let x = 2463534242;
  const next = () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), (x >>> 0) % ACCOUNTS);
  return Array.from({ length: count }, () => {
    const a = next();
    let b = next();
    if (b === a) b = (a + 1) % ACCOUNTS;
    return [a, b];
  });
}

function requestSets(format: Format): Record<string, RawRequest[]> {
  const each = <T>(n: number, f: (i: number) => T) => Array.from({ length: n }, (_, i) => f(i));
  return {
    open: each(ACCOUNTS, (i) => request(format, `${BANK}/Open`, OpenRequestSchema, { owner: OWNER, initial: 1_000_000_000n }, actor(accountId(i)))),
    writer: each(ACCOUNTS, (i) => request(format, `${BANK}/Deposit`, DepositRequestSchema, { amount: 1n }, actor(accountId(i)))),
    hot: [request(format, `${BANK}/Deposit`, DepositRequestSchema, { amount: 1n }, actor(accountId(0)))],
    reader: each(ACCOUNTS, (i) => request(format, `${BANK}/Balance`, BalanceRequestSchema, {}, actor(accountId(i)))),
    workflow: each(10_000, (i) => request(format, "/probe.v1.ProbeMethods/Run", RunRequestSchema, { scenario: "steps10" }, actor(`wf-${i}`))),
    transaction: pairs(ACCOUNTS).map(([a, b]) =>
      request(format, `${BANK}/Transfer`, TransferRequestSchema, { to: accountId(b), amount: 1n }, { ...actor(accountId(a)), ...ownerAuth }),
    ),
  };
}

// ---- measuring ------------------------------------------------------------------

interface Side {
  /** e.g. "writer-1000-actors". */
  readonly scenario: string;
  /** floor | trivial | fast | connect. */
  readonly path: string;
  readonly server: ServerChild;
  readonly pool: string;
  readonly set: string;
}

interface Measured {
  readonly load: LoadResult;
  readonly serverCpuUsPerCall: number;
  readonly serverCpuPct: number;
}


/** `measure` over the sides on BENCH_PATHS; the others answer undefined. */
async function measureWanted(client: Client, sides: readonly Side[]): Promise<Array<Measured | undefined>> {
  const kept = sides.filter(onPath);
  const measured = await measure(client, kept);
  return sides.map((s) => measured[kept.indexOf(s)]);
}

/** Warms each side up, then lets them take turns for SLICES slices; server CPU is sampled around each slice. */
async function measure(client: Client, sides: readonly Side[]): Promise<Measured[]> {
  log(`${sides.map((s) => `${s.scenario}/${s.path}`).join(" vs ")}`);
  for (const s of sides) await client.ask({ type: "load", pool: s.pool, set: s.set, seconds: WARMUP, maxCalls: MAX_CALLS_PER_SLICE });
  const slices = sides.map(() => [] as LoadResult[]);
  const cpuUs = sides.map(() => 0);
  const wallMs = sides.map(() => 0);
  for (let k = 0; k < SLICES; k++) {
    for (const [i, s] of sides.entries()) {
      const before = await s.server.stats();
      const r = loadResult(await client.ask({ type: "load", pool: s.pool, set: s.set, seconds: SECONDS / SLICES, maxCalls: MAX_CALLS_PER_SLICE }));
      const after = await s.server.stats();
      slices[i]!.push(r);
      cpuUs[i]! += after.cpuUs - before.cpuUs;
      wallMs[i]! += after.at - before.at;
    }
  }
  return sides.map((s, i) => {
    const load = mergeLoads(slices[i]!);
    const m = { load, serverCpuUsPerCall: round(cpuUs[i]! / Math.max(1, load.calls), 1), serverCpuPct: round((cpuUs[i]! / 1000 / wallMs[i]!) * 100, 1) };
    log(`${s.scenario}/${s.path}: ${load.throughput}/s, p99 ${load.p99Ms} ms, errors ${load.errors}, server ${m.serverCpuUsPerCall} µs/call`);
    return m;
  });
}

function line(format: Format, side: Side, m: Measured, floor: Measured, target?: { text: string; ok: boolean }, extra: object = {}): object {
  const { load } = m;
  return {
    scenario: side.scenario,
    protocol: format,
    path: side.path,
    inFlight: IN_FLIGHT,
    ...loadFields(load),
    maxMs: load.maxMs,
    serverCpuUsPerCall: m.serverCpuUsPerCall,
    serverCpuPct: m.serverCpuPct,
    clientCpuPct: load.clientCpuPct,
    clientProcesses: CLIENTS,
    clientCpuPctPerProcess: round(load.clientCpuPct / CLIENTS, 1),
    floorThroughput: floor.load.throughput,
    floorP99Ms: floor.load.p99Ms,
    floorServerCpuUsPerCall: floor.serverCpuUsPerCall,
    ratioToFloor: round(load.throughput / floor.load.throughput, 3),
    p99RatioToFloor: round(load.p99Ms / floor.load.p99Ms, 3),
    slices: SLICES,
    loadAvg1m: round(loadavg()[0]!, 2),
    ...extra,
    ...(target ? { target: target.text, meetsTarget: target.ok && load.errors === 0 } : {}),
  };
}

const p99Ok = (m: Measured, f: Measured) => m.load.p99Ms <= 3 * f.load.p99Ms;

/** The floor, the trivial handler, and the writer over 1,000 actors and the hot actor on both paths, all interleaved. */
async function measureWriters(client: Client, format: Format, floor: Side, side: (scenario: string, path: "trivial" | CairnPath, set: string) => Side): Promise<void> {
  const writers = [floor, side("trivial-connect", "trivial", "writer")];
  for (const path of CAIRN_PATHS) writers.push(side("writer-1000-actors", path, "writer"), side("writer-hot-actor", path, "hot"));
  const w = await measureWanted(client, writers);
  const f = w[0]!;
  emit(line(format, writers[0]!, f, f));
  if (w[1]) emit(line(format, writers[1]!, w[1], f));
  const base = writers.findIndex((s) => s.path === "base");
  for (let i = 2; i < writers.length; i += 2) {
    const [writer, hot] = [w[i], w[i + 1]];
    if (!writer || !hot) continue;
    const fast = writers[i]!.path === "fast";
    const vsBase = fast && base > 0 && w[base] ? { vsBaselineRatio: round(writer.load.throughput / w[base]!.load.throughput, 3) } : {};
    emit(line(format, writers[i]!, writer, f, fast ? { text: ">= 0.5x floor, p99 <= 3x floor p99", ok: writer.load.throughput >= 0.5 * f.load.throughput && p99Ok(writer, f) } : undefined, vsBase));
    const vsWriter = round(hot.load.throughput / writer.load.throughput, 3);
    emit(line(format, writers[i + 1]!, hot, f, fast ? { text: ">= 0.9x writer-1000-actors, p99 <= 3x floor p99", ok: vsWriter >= 0.9 && p99Ok(hot, f) } : undefined, { vsWriter1000Ratio: vsWriter }));
  }
}

// ---- the run ----------------------------------------------------------------------

interface Servers {
  floor: Record<Protocol, ServerChild>;
  trivial: ServerChild;
  fast: ServerChild;
  connect: ServerChild;
  base?: ServerChild;
}

async function runFormat(client: Client, servers: Servers, format: Format): Promise<void> {
  const protocol = PROTOCOL[format];
  const sets = requestSets(format);
  for (const [name, requests] of Object.entries(sets)) await client.ask({ type: "define", set: `${format}/${name}`, requests });
  const pools: Partial<Record<"floor" | "trivial" | CairnPath, ServerChild>> = {
    floor: servers.floor[protocol],
    trivial: servers.trivial,
    fast: servers.fast,
    connect: servers.connect,
    ...(servers.base ? { base: servers.base } : {}),
  };
  for (const [path, server] of Object.entries(pools)) {
    await client.ask({ type: "open", pool: `${format}/${path}`, port: Number(new URL(server.url).port), protocol, inFlight: IN_FLIGHT });
  }
  const side = (scenario: string, path: keyof typeof pools, set: string): Side => ({
    scenario,
    path,
    server: pools[path]!,
    pool: `${format}/${path}`,
    set: `${format}/${set}`,
  });
  // Every account exists on both Cairn servers (opened once, over HTTP/1.1 JSON).
  if (format === "h1-json" || !wanted("h1-json")) {
    for (const path of CAIRN_PATHS) {
      const opened = loadResult(await client.ask({ type: "load", pool: `${format}/${path}`, set: `${format}/open`, seconds: 120, maxCalls: ACCOUNTS }));
      if (opened.calls !== ACCOUNTS || opened.errors > 0) throw new Error(`opened ${opened.calls - opened.errors}/${ACCOUNTS} accounts on ${path}: ${opened.firstError}`);
    }
  }
  const floor = side("floor", "floor", "writer");
  // The client's own warm-up (its JIT, the pool's connections), before any group measures.
  await client.ask({ type: "load", pool: floor.pool, set: floor.set, seconds: 3 * WARMUP, maxCalls: MAX_CALLS_PER_SLICE });

  if (group("writers")) await measureWriters(client, format, floor, side);
  for (const scenario of ["reader", "workflow-10-steps", "transaction"].filter(group)) {
    const set = scenario === "workflow-10-steps" ? "workflow" : scenario;
    const sides = [floor, ...CAIRN_PATHS.map((path) => side(scenario, path, set))];
    const [fl, fast, connect, base] = (await measureWanted(client, sides)) as [Measured, ...Array<Measured | undefined>];
    emit(line(format, sides[0]!, fl, fl));
    if (fast) {
      const target = scenario === "reader" ? { text: ">= 0.5x floor, p99 <= 3x floor p99", ok: fast.load.throughput >= 0.5 * fl.load.throughput && p99Ok(fast, fl) } : undefined;
      const ratios = {
        ...(connect ? { vsConnectPath: round(fast.load.throughput / connect.load.throughput, 3) } : {}),
        ...(base ? { vsBaselineRatio: round(fast.load.throughput / base.load.throughput, 3) } : {}),
      };
      emit(line(format, sides[1]!, fast, fl, target, ratios));
    }
    if (connect) emit(line(format, sides[2]!, connect, fl));
    if (base) emit(line(format, sides[3]!, base, fl));
  }
}

async function main(): Promise<void> {
  const formats = (["h1-json", "h2-binary"] as const).filter(wanted);
  const started: ServerChild[] = [];
  const start = async (mode: Parameters<typeof startServer>[0], repo?: string) => {
    const s = await startServer(mode, undefined, repo);
    started.push(s);
    log(`${mode}${repo ? ` (${repo})` : ""} server pid ${s.pid} on ${s.url}`);
    return s;
  };
  const client = startLeanClients(CLIENTS, H2_SESSIONS);
  try {
    const servers: Servers = {
      floor: { h1: await start("floor-h1"), h2: await start("floor-h2") },
      trivial: await start("baseline"),
      fast: await start("cairn"),
      connect: await start("cairn-connect-path"),
      ...(BASELINE_REPO ? { base: await start("cairn", BASELINE_REPO) } : {}),
    };
    for (const format of formats) await runFormat(client, servers, format);
  } finally {
    await client.close();
    for (const s of started) await s.stop();
  }
}

runBench(main);
