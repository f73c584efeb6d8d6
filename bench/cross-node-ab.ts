/**
 * `npx tsx bench/cross-node-ab.ts`: the bank's transfers on two nodes (pods
 * of one partition each; client j enters by node j with transfers from its
 * accounts, a fraction f of them to the other node's accounts), for each
 * checkout in BENCH_AB_ROOTS (comma-separated repository roots, default
 * this one: e.g. a copy of the code before a change, its node_modules
 * linked to ours), plus one partition of this checkout (BENCH_AB_ONE=0:
 * not), measured in the same run in alternating slices, so a change is
 * compared with the code before it at the same load. One JSON line per
 * target, with the servers' CPU and write system calls (each peer message
 * and answer is one, plus LMDB's) per transfer.
 *
 * Env: BENCH_AB_F (1), BENCH_SECONDS (6), BENCH_SLICES (3); BENCH_CPU_PROF=1
 * writes each node's .cpuprofile into $TMPDIR/cairn-bench-profiles/ab-r<i>-node<j>/
 * and logs the moment the measured slices start (bench/profile-summary.ts --from).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { create, toJsonString, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { OpenRequestSchema, TransferRequestSchema } from "../generated/bank/v1/account_pb.js";
import { BANK_TOKEN_SECRET } from "../examples/bank/servicer.js";
import type * as Spawn from "../examples/bank/spawn.js";
import { signHmacToken } from "../src/index.js";
import { nodeOfPartition, partitionOf } from "../src/api/partition.js";
import type { RawRequest } from "./lean-client.js";
import { loadResult, startLeanClient } from "./lean-client-driver.js";
import { loadFields, round, summarize, type LoadResult } from "./load.js";
import { emit, log, runBench } from "./output.js";
import { processTreeCpuUs, processWrites } from "./process-cpu.js";
import { bundleScript, REPO_DIR } from "./child.js";

/** `root`'s bank server bundled as production runs it (bench/child.ts; packages from our node_modules). */
const bundled = (root: string) => bundleScript(join(root, "examples/bank/server.ts"), root);

const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const SLICES = Number(process.env.BENCH_SLICES ?? 3);
const F = Number(process.env.BENCH_AB_F ?? 1);
const ROOTS = (process.env.BENCH_AB_ROOTS ?? REPO_DIR).split(",");
const ONE = process.env.BENCH_AB_ONE !== "0";
const ACCOUNTS = 1_000;
const STATE = "bank.v1.Account";
const OWNER = "bench-owner";
const NODES = 2;
const ids = Array.from({ length: ACCOUNTS }, (_, i) => `xp-${i}`);
const onNode = Array.from({ length: NODES }, (_, n) => ids.filter((id) => nodeOfPartition(partitionOf(STATE, id, NODES), NODES) === n));
const auth = `Bearer ${signHmacToken({ sub: OWNER }, BANK_TOKEN_SECRET)}`;

function request<S extends DescMessage>(method: string, schema: S, init: MessageInitShape<S>, id: string): RawRequest {
  const body = Buffer.from(toJsonString(schema, create(schema, init)));
  return { path: `/bank.v1.AccountMethods/${method}`, headers: { "content-type": "application/json", "x-cairn-actor-id": id, authorization: auth }, body: body.toString("base64") };
}

function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

function nodeTransfers(f: number, node: number | undefined, seed: number): RawRequest[] {
  const next = random(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]!;
  return Array.from({ length: 4000 }, () => {
    const from = pick(node === undefined ? ids : onNode[node]!);
    const candidates = node === undefined ? ids : next() < f ? onNode[(node + 1) % NODES]! : onNode[node]!;
    let to = pick(candidates);
    while (to === from) to = pick(candidates);
    return request("Transfer", TransferRequestSchema, { to, amount: 1n }, from);
  });
}

interface Target {
  label: string;
  ports: number[];
  pids: number[];
  servers: Spawn.SpawnedServer[];
  stop: (s: Spawn.SpawnedServer) => Promise<unknown>;
}

async function main(): Promise<void> {
  const clients = [startLeanClient(0), startLeanClient(1)];
  const targets: Target[] = [];
  const dirs: string[] = [];
  try {
    for (const [r, root] of ROOTS.entries()) {
      const spawn = (await import(join(root, "examples/bank/spawn.ts"))) as typeof Spawn;
      const label = `r${r}`;
      const dataDir = await mkdtemp(join(tmpdir(), "cairn-ab-"));
      dirs.push(dataDir);
      const peerPort = await spawn.freePort();
      const servers = await Promise.all(
        Array.from({ length: NODES }, async (_, i) =>
          spawn.spawnServer({
            dataDir,
            port: await spawn.freePort(),
            readyTimeoutMs: 120_000,
            script: bundled(root),
            nodeFlags: process.env.BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${join(tmpdir(), "cairn-bench-profiles", `ab-${label}-node${i}`)}`] : [],
            env: {
              NODE_ENV: "production",
              CAIRN_NODES: String(NODES),
              CAIRN_POD_NAME: `cairn-${i}`,
              CAIRN_PEER_URL: `http://127.0.0.1{i}:${peerPort}`,
              CAIRN_PEER_HOST: `127.0.0.1${i}`,
              CAIRN_CLUSTER_SECRET: "bench-cluster-secret-0123456789",
            },
          }),
        ),
      );
      log(`${label} pids ${servers.map((s) => s.pid).join(" ")}`);
      targets.push({ label: root, ports: servers.map((s) => Number(new URL(s.url).port)), pids: servers.map((s) => s.pid), servers, stop: (s) => spawn.stopServer(s, 30_000) });
    }
    if (ONE) {
      const spawn = await import("../examples/bank/spawn.js");
      const dataDir = await mkdtemp(join(tmpdir(), "cairn-ab-1-"));
      dirs.push(dataDir);
      const s = await spawn.spawnServer({ dataDir, port: await spawn.freePort(), readyTimeoutMs: 120_000, script: bundled(REPO_DIR), env: { NODE_ENV: "production", CAIRN_PARTITIONS: "1" } });
      targets.push({ label: "one-partition", ports: [Number(new URL(s.url).port)], pids: [s.pid], servers: [s], stop: (x) => spawn.stopServer(x, 30_000) });
    }
    const pools: string[][] = [];
    for (const [t, target] of targets.entries()) {
      const pool = `open-${t}`;
      await clients[0]!.ask({ type: "open", pool, port: target.ports[0]!, protocol: "h1", inFlight: 16 });
      await clients[0]!.ask({ type: "define", set: pool, requests: ids.map((id) => request("Open", OpenRequestSchema, { owner: OWNER, initial: 1_000_000_000n }, id)) });
      const opened = loadResult(await clients[0]!.ask({ type: "load", pool, set: pool, seconds: 120, maxCalls: ACCOUNTS }));
      if (opened.calls !== ACCOUNTS || opened.errors > 0) throw new Error(`opened ${opened.calls - opened.errors}/${ACCOUNTS}: ${opened.firstError}`);
      const ps: string[] = [];
      for (const [j, client] of clients.entries()) {
        const p = `t${t}/${j}`;
        const nodes = target.ports.length;
        await client.ask({ type: "open", pool: p, port: target.ports[j % nodes]!, protocol: "h1", inFlight: 32 });
        await client.ask({ type: "define", set: p, requests: nodeTransfers(F, nodes > 1 ? j % nodes : undefined, 17 + j) });
        ps.push(p);
      }
      pools.push(ps);
    }
    const cpu = targets.map(() => 0);
    const writes = targets.map(() => 0);
    const run = async (t: number, seconds: number): Promise<LoadResult> => {
      const before = processTreeCpuUs(targets[t]!.pids);
      const writesBefore = processWrites(targets[t]!.pids);
      const rs = await Promise.all(pools[t]!.map(async (p, j) => loadResult(await clients[j]!.ask({ type: "load", pool: p, set: p, seconds, maxCalls: 200_000 }))));
      cpu[t]! += processTreeCpuUs(targets[t]!.pids) - before;
      writes[t]! += processWrites(targets[t]!.pids) - writesBefore;
      return merge(rs, true);
    };
    for (const t of targets.keys()) await run(t, 2);
    cpu.fill(0);
    writes.fill(0);
    log(`measuring from ${process.hrtime.bigint() / 1000n} µs (the profiles' clock)`);
    const slices = targets.map(() => [] as LoadResult[]);
    for (let k = 0; k < SLICES; k++) for (const t of targets.keys()) slices[t]!.push(await run(t, SECONDS / SLICES));
    const one = ONE ? merge(slices[targets.length - 1]!) : undefined;
    for (const [t, target] of targets.entries()) {
      const r = merge(slices[t]!);
      const cpuPerCall = r.calls > 0 ? Math.round(cpu[t]! / r.calls) : 0;
      log(`${target.label}: ${r.throughput}/s p50 ${r.p50Ms} ms p99 ${r.p99Ms} ms, server CPU ${cpuPerCall} µs per transfer, ${r.calls > 0 ? round(writes[t]! / r.calls, 2) : 0} write calls`);
      emit({
        scenario: "cross-node-ab",
        target: target.label,
        nodes: target.ports.length,
        crossFraction: target.ports.length > 1 ? F : 0,
        ...loadFields(r),
        serverCpuUsPerCall: cpuPerCall,
        serverWritesPerCall: r.calls > 0 ? round(writes[t]! / r.calls, 2) : 0,
        ...(one ? { vsOnePartition: round(r.throughput / one.throughput, 3) } : {}),
        slices: SLICES,
        loadAvg1m: round(loadavg()[0]!, 2),
      });
    }
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    for (const t of targets) for (const s of t.servers) await t.stop(s).catch(() => s.kill("SIGKILL"));
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  }
}

function merge(parts: readonly LoadResult[], atOnce = false): LoadResult {
  const latencies = Float64Array.from(parts.flatMap((r) => Array.from(r.raw.latencies))).sort();
  const windows = parts.map((r) => r.raw.windowMs);
  const windowMs = atOnce ? Math.max(...windows) : windows.reduce((a, b) => a + b, 0);
  const errors = parts.reduce((n, r) => n + r.errors, 0);
  return summarize({ latencies, windowMs, clientCpuUs: parts.reduce((n, r) => n + r.raw.clientCpuUs, 0) }, errors, parts.find((r) => r.firstError)?.firstError);
}

runBench(main);
