/**
 * `npm run bench:cross-partition`: the bank's transfers (a transaction on
 * two accounts) where a fraction f of them joins accounts of two
 * partitions (two-phase commit, DESIGN.md §9), f in {0, 0.1, 0.5, 1}, on
 * one process of 8 partitions, against today's transfers on one process of
 * one partition, measured in the same run in alternating slices. Load from
 * two lean-client processes (bench/lean-client.ts, Connect JSON over
 * HTTP/1.1 keep-alive), 64 calls in flight in all. One JSON line per f.
 *
 * Targets (issue 16): f = 1 at least 0.3x the one-partition transfers;
 * f = 0 equal to them. Then the same on two nodes (two processes started
 * as pods, one partition each, f in {0, 0.5, 1}: the fraction whose two
 * accounts are on different nodes): each lean client enters by one node
 * with transfers from that node's accounts. Both nodes share this
 * machine's cores with the clients.
 *
 * Env: BENCH_SECONDS (6 per scenario), BENCH_SLICES (3), BENCH_WARMUP_SECONDS (2).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { create, toJsonString, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { OpenRequestSchema, TransferRequestSchema } from "../generated/bank/v1/account_pb.js";
import { BANK_TOKEN_SECRET } from "../examples/bank/servicer.js";
import { freePort, spawnServer, stopServer, type SpawnedServer } from "../examples/bank/spawn.js";
import { signHmacToken } from "../src/index.js";
import { nodeOfPartition, partitionOf } from "../src/api/partition.js";
import type { RawRequest } from "./lean-client.js";
import { loadResult, startLeanClient, type LeanClient } from "./lean-client-driver.js";
import { loadFields, round, summarize, type LoadResult } from "./load.js";
import { emit, log, runBench } from "./output.js";
import { processTreeCpuUs } from "./process-cpu.js";

const IN_FLIGHT = 64;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const SLICES = Number(process.env.BENCH_SLICES ?? 3);
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const MAX_CALLS = 200_000;
const PARTITIONS = 8;
const ACCOUNTS = 1_000;
/** Requests per set: each client cycles through its set. */
const PLANNED = 4_000;
const STATE = "bank.v1.Account";
const OWNER = "bench-owner";
const FRACTIONS = [0, 0.1, 0.5, 1];
const NODE_FRACTIONS = [0, 0.5, 1];
const NODES = 2;
const ids = Array.from({ length: ACCOUNTS }, (_, i) => `xp-${i}`);
const byPartition = Array.from({ length: PARTITIONS }, (_, p) => ids.filter((id) => partitionOf(STATE, id, PARTITIONS) === p));
const onNode = Array.from({ length: NODES }, (_, n) => ids.filter((id) => nodeOfPartition(partitionOf(STATE, id, NODES), NODES) === n));
const auth = `Bearer ${signHmacToken({ sub: OWNER }, BANK_TOKEN_SECRET)}`;

function request<S extends DescMessage>(method: string, schema: S, init: MessageInitShape<S>, id: string): RawRequest {
  const body = Buffer.from(toJsonString(schema, create(schema, init)));
  const headers = { "content-type": "application/json", "x-cairn-actor-id": id, authorization: auth };
  return { path: `/bank.v1.AccountMethods/${method}`, headers, body: body.toString("base64") };
}

/** xorshift32: a deterministic plan. */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/** Transfers of 1 between two different accounts; a fraction `f` of them across partitions (`partitions` 1: any pair). */
function transfers(f: number, partitions: number, seed: number): RawRequest[] {
  const next = random(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]!;
  return Array.from({ length: PLANNED }, () => {
    const from = pick(ids);
    const p = partitionOf(STATE, from, PARTITIONS);
    const across = partitions > 1 && next() < f;
    const candidates = partitions === 1 ? ids : across ? byPartition[(p + 1 + Math.floor(next() * (PARTITIONS - 1))) % PARTITIONS]! : byPartition[p]!;
    let to = pick(candidates);
    while (to === from) to = pick(candidates);
    return request("Transfer", TransferRequestSchema, { to, amount: 1n }, from);
  });
}

/** Transfers of 1 from accounts of `node`; a fraction `f` of them to another node's account. */
function nodeTransfers(f: number, node: number, seed: number): RawRequest[] {
  const next = random(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]!;
  return Array.from({ length: PLANNED }, () => {
    const from = pick(onNode[node]!);
    const candidates = next() < f ? onNode[(node + 1) % NODES]! : onNode[node]!;
    let to = pick(candidates);
    while (to === from) to = pick(candidates);
    return request("Transfer", TransferRequestSchema, { to, amount: 1n }, from);
  });
}

interface Scenario {
  readonly name: string;
  readonly partitions: number;
  readonly nodes: number;
  readonly f: number;
  readonly pools: string[];
  /** The server processes it loads (their CPU per transfer is reported). */
  readonly pids: number[];
}

async function main(): Promise<void> {
  const clients: LeanClient[] = [startLeanClient(0), startLeanClient(1)];
  const servers: SpawnedServer[] = [];
  const dirs: string[] = [];
  try {
    const start = async (partitions: number) => {
      const dataDir = await mkdtemp(join(tmpdir(), `cairn-xp-${partitions}-`));
      dirs.push(dataDir);
      const env = { NODE_ENV: "production", CAIRN_PARTITIONS: String(partitions) };
      const server = await spawnServer({ dataDir, port: await freePort(), env, readyTimeoutMs: 120_000 });
      servers.push(server);
      pidsOf.set(partitions, [server.pid]);
      log(`${partitions} partition(s): ${server.url} (pid ${server.pid})`);
      return Number(new URL(server.url).port);
    };
    /** Two nodes started together, as pods: node i's peer address is 127.0.0.1i. */
    const pidsOf = new Map<number, number[]>();
    const startNodes = async (): Promise<number[]> => {
      const dataDir = await mkdtemp(join(tmpdir(), "cairn-xp-nodes-"));
      dirs.push(dataDir);
      const peerPort = await freePort();
      const started = await Promise.all(
        Array.from({ length: NODES }, async (_, i) => {
          const env = {
            NODE_ENV: "production",
            CAIRN_NODES: String(NODES),
            CAIRN_POD_NAME: `cairn-${i}`,
            CAIRN_PEER_URL: `http://127.0.0.1{i}:${peerPort}`,
            CAIRN_PEER_HOST: `127.0.0.1${i}`,
            CAIRN_CLUSTER_SECRET: "bench-cluster-secret-0123456789",
          };
          return spawnServer({ dataDir, port: await freePort(), env, readyTimeoutMs: 120_000 });
        }),
      );
      servers.push(...started);
      pidsOf.set(-NODES, started.map((s) => s.pid));
      log(`${NODES} nodes: ${started.map((s) => `${s.url} (pid ${s.pid})`).join(", ")}`);
      return started.map((s) => Number(new URL(s.url).port));
    };
    const ports = new Map([
      [1, await start(1)],
      [PARTITIONS, await start(PARTITIONS)],
    ]);
    const nodePorts = await startNodes();
    for (const [partitions, port] of [...ports, [-NODES, nodePorts[0]!] as const]) {
      const pool = `open-${partitions}`;
      await clients[0]!.ask({ type: "open", pool, port, protocol: "h1", inFlight: 16 });
      await clients[0]!.ask({ type: "define", set: pool, requests: ids.map((id) => request("Open", OpenRequestSchema, { owner: OWNER, initial: 1_000_000_000n }, id)) });
      const opened = loadResult(await clients[0]!.ask({ type: "load", pool, set: pool, seconds: 120, maxCalls: ACCOUNTS }));
      if (opened.calls !== ACCOUNTS || opened.errors > 0) throw new Error(`opened ${opened.calls - opened.errors}/${ACCOUNTS}: ${opened.firstError}`);
    }
    const scenarios: Scenario[] = [];
    const plan = [
      { partitions: 1, nodes: 1, f: 0 },
      ...FRACTIONS.map((f) => ({ partitions: PARTITIONS, nodes: 1, f })),
      ...NODE_FRACTIONS.map((f) => ({ partitions: NODES, nodes: NODES, f })),
    ];
    for (const { partitions, nodes, f } of plan) {
      const name = partitions === 1 ? "one-partition" : nodes > 1 ? `${nodes} nodes, f=${f}` : `f=${f}`;
      const pools: string[] = [];
      for (const [j, client] of clients.entries()) {
        const pool = `${name}/${j}`;
        // On two nodes client j enters by node j, with transfers from its accounts.
        const port = nodes > 1 ? nodePorts[j % NODES]! : ports.get(partitions)!;
        await client.ask({ type: "open", pool, port, protocol: "h1", inFlight: IN_FLIGHT / clients.length });
        await client.ask({ type: "define", set: pool, requests: nodes > 1 ? nodeTransfers(f, j % NODES, 17 + j) : transfers(f, partitions, 17 + j) });
        pools.push(pool);
      }
      scenarios.push({ name, partitions, nodes, f, pools, pids: pidsOf.get(nodes > 1 ? -NODES : partitions)! });
    }
    /** Server CPU (µs) each scenario's measured slices took. */
    const serverCpuUs = scenarios.map(() => 0);
    const run = async (s: Scenario, seconds: number): Promise<LoadResult> => {
      const cpuBefore = processTreeCpuUs(s.pids);
      const results = await Promise.all(
        s.pools.map(async (pool, j) => loadResult(await clients[j]!.ask({ type: "load", pool, set: pool, seconds, maxCalls: MAX_CALLS }))),
      );
      serverCpuUs[scenarios.indexOf(s)]! += processTreeCpuUs(s.pids) - cpuBefore;
      return merge(results, true);
    };
    for (const s of scenarios) await run(s, WARMUP);
    serverCpuUs.fill(0);
    const slices = scenarios.map(() => [] as LoadResult[]);
    for (let k = 0; k < SLICES; k++) for (const [i, s] of scenarios.entries()) slices[i]!.push(await run(s, SECONDS / SLICES));
    const results = slices.map((parts) => merge(parts));
    const base = results[0]!;
    for (const [i, s] of scenarios.entries()) {
      const r = results[i]!;
      const vs = round(r.throughput / base.throughput, 3);
      const target = s.partitions === 1 ? {} : s.f === 1 ? { target: ">= 0.3x one-partition", meetsTarget: vs >= 0.3 && r.errors === 0 } : s.f === 0 ? { target: "= one-partition" } : {};
      const cpuPerCall = r.calls > 0 ? Math.round(serverCpuUs[i]! / r.calls) : 0;
      log(`${s.name}: ${r.throughput}/s p50 ${r.p50Ms} ms p99 ${r.p99Ms} ms (${vs}x one-partition), server CPU ${cpuPerCall} µs per transfer`);
      emit({
        scenario: "cross-partition-transfers",
        partitions: s.partitions,
        crossFraction: s.f,
        nodes: s.nodes,
        accounts: ACCOUNTS,
        protocol: "h1-json",
        inFlight: IN_FLIGHT,
        ...loadFields(r),
        serverCpuUsPerCall: r.calls > 0 ? Math.round(serverCpuUs[i]! / r.calls) : 0,
        onePartitionThroughput: base.throughput,
        vsOnePartition: vs,
        slices: SLICES,
        loadAvg1m: round(loadavg()[0]!, 2),
        ...target,
      });
    }
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    for (const s of servers) await stopServer(s, 30_000).catch(() => s.kill("SIGKILL"));
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  }
}

/** Results as one: latencies together; the windows of legs run at once overlap (the longest), slices add up. */
function merge(parts: readonly LoadResult[], atOnce = false): LoadResult {
  const latencies = Float64Array.from(parts.flatMap((r) => Array.from(r.raw.latencies))).sort();
  const windows = parts.map((r) => r.raw.windowMs);
  const windowMs = atOnce ? Math.max(...windows) : windows.reduce((a, b) => a + b, 0);
  const errors = parts.reduce((n, r) => n + r.errors, 0);
  return summarize({ latencies, windowMs, clientCpuUs: parts.reduce((n, r) => n + r.raw.clientCpuUs, 0) }, errors, parts.find((r) => r.firstError)?.firstError);
}

runBench(main);
