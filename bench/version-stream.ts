/**
 * `npm run bench:version-stream`: reactivity and calls across nodes
 * (DESIGN.md §9), two nodes started as pods (test/fixtures/nodes-server.ts:
 * the bank and the probe state). One JSON line per scenario:
 *
 * - version-stream-cross-node: a subscriber (this process, with the class
 *   a node uses: PeerVersions over a pooled HTTP/2 session) watches 50
 *   actors node 1 owns while deposits commit on them at a steady 100/s.
 *   Latency: the owner's commit time (in the change line) to the line's
 *   arrival here, on one machine's clock. Target: p99 < 20 ms.
 * - reactive-reader-{cross,same}-node: through the real wiring, a client
 *   watches a reactive reader on node 0 that reads (a reader calling a
 *   reader) an actor on node 1, or on node 0 for the baseline, while adds
 *   commit on that actor at 100/s; latency from an add's send to the
 *   client's update showing it (coalesced updates count once).
 * - workflow-call-{cross,same}-node: workflows on node 0 that each make one
 *   keyed write on an actor of node 1, or of node 0 for the baseline,
 *   spawned and awaited one after another: spawn → outcome latency.
 *
 * Env: BENCH_SECONDS (10), BENCH_RATE (100 commits/s), BENCH_WORKFLOWS (200), BENCH_ONLY.
 */
import { loadavg } from "node:os";
import { ExternalContext } from "../src/index.js";
import { Account } from "../generated/bank/v1/account_cairn.js";
import { nodeOfPartition, partitionOf } from "../src/api/partition.js";
import { PeerSessions } from "../src/transport/peer-sessions.js";
import { PeerVersions } from "../src/transport/peer-versions.js";
import { fileURLToPath } from "node:url";
import { Probe } from "../generated/probe/v1/probe_cairn.js";
import { round } from "./load.js";
import { CLUSTER_SECRET, startLayout, stopLayouts, type Layout } from "./node-layouts.js";
import { emit, log, sleep, runBench, wanted } from "./output.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const RATE = Number(process.env.BENCH_RATE ?? 100);
const ACTORS = 50;
const WORKFLOWS = Number(process.env.BENCH_WORKFLOWS ?? 200);
const NODES_SERVER = fileURLToPath(new URL("../test/fixtures/nodes-server.ts", import.meta.url));
/** Every wait here is bounded: a stuck run ends the bench, it does not hang it. */
const WAIT_MS = 60_000;

const ownerOf = (stateType: string, id: string) => nodeOfPartition(partitionOf(stateType, id, 2), 2);
/** The first id `prefix-n` that node `node` owns. */
function idOn(node: number, prefix: string, stateType = "probe.v1.Probe"): string {
  for (let n = 0; ; n++) if (ownerOf(stateType, `${prefix}-${n}`) === node) return `${prefix}-${n}`;
}
const quantile = (sorted: number[], q: number) => round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN, 3);

async function main(): Promise<void> {
  const layout = await startLayout("pods-2", 2, "pods", NODES_SERVER);
  try {
    if (wanted("version-stream-cross-node")) await versionStream(layout);
    for (const where of ["cross", "same"] as const) {
      if (wanted(`reactive-reader-${where}-node`)) await reactiveReader(layout, where);
    }
    for (const where of ["cross", "same"] as const) {
      if (wanted(`workflow-call-${where}-node`)) await workflowCalls(layout, where);
    }
  } finally {
    await stopLayouts();
  }
}

/** A reactive reader on node 0 over an actor of node 1 (or 0), updated by adds at RATE/s. */
async function reactiveReader(layout: Layout, where: "cross" | "same"): Promise<void> {
  const home = idOn(0, `rr-home-${where}`);
  const other = idOn(where === "cross" ? 1 : 0, `rr-other-${where}`);
  const reader = new ExternalContext({ url: layout.servers[0]!.url, timeoutMs: 30_000 });
  const writer = new ExternalContext({ url: layout.servers[where === "cross" ? 1 : 0]!.url, timeoutMs: 30_000 });
  const abort = new AbortController();
  const sentAt = new Map<bigint, number>();
  const latencies: number[] = [];
  let last = -1n;
  const watching = (async () => {
    for await (const view of Probe.ref(home).reactively(abort.signal).getWith(reader, { other })) {
      const now = performance.now();
      for (let c = last + 1n; c <= view.counter; c++) {
        const t = sentAt.get(c);
        if (t !== undefined && c === view.counter) latencies.push(now - t);
        sentAt.delete(c);
      }
      last = view.counter;
    }
  })().catch((e: unknown) => {
    if (!abort.signal.aborted) throw e;
  });
  try {
    const deadline = Date.now() + WAIT_MS;
    while (last < 0n && Date.now() < deadline) await sleep(10);
    const total = Math.round(SECONDS * RATE);
    const start = performance.now();
    const sent: Promise<unknown>[] = [];
    for (let i = 1; i <= total; i++) {
      const wait = start + (i * 1000) / RATE - performance.now();
      if (wait > 0) await sleep(wait);
      sentAt.set(BigInt(i), performance.now());
      sent.push(Probe.ref(other).add(writer, { amount: 1n }));
    }
    await Promise.all(sent);
    const end = Date.now() + 10_000;
    while (last < BigInt(total) && Date.now() < end) await sleep(10);
    const sorted = latencies.sort((a, b) => a - b);
    log(`reactive reader ${where}-node: ${sorted.length} updates for ${total} adds, p50 ${quantile(sorted, 0.5)} ms, p99 ${quantile(sorted, 0.99)} ms`);
    emit({
      scenario: `reactive-reader-${where}-node`,
      commitsPerSecond: RATE,
      commits: total,
      updates: sorted.length,
      lastSeen: Number(last),
      p50Ms: quantile(sorted, 0.5),
      p99Ms: quantile(sorted, 0.99),
      maxMs: round(sorted.at(-1) ?? NaN, 3),
      loadAvg1m: round(loadavg()[0]!, 2),
      baseline: where === "cross" ? "reactive-reader-same-node" : undefined,
    });
  } finally {
    abort.abort();
    await watching;
    reader.close();
    writer.close();
  }
}

/** Workflows on node 0 each making one keyed write on node 1 (or 0), one after another. */
async function workflowCalls(layout: Layout, where: "cross" | "same"): Promise<void> {
  const ctx = new ExternalContext({ url: layout.servers[0]!.url, timeoutMs: WAIT_MS });
  const target = idOn(where === "cross" ? 1 : 0, `wf-target-${where}`);
  const homes = Array.from({ length: 8 }, (_, k) => idOn(0, `wf-home-${where}-${k}`));
  try {
    const run = (k: number) => Probe.ref(homes[k % homes.length]!).spawn().run(ctx, { scenario: "remoteAdd", target, n: 1n });
    for (let k = 0; k < 10; k++) await run(k); // warm-up
    const times: number[] = [];
    const start = performance.now();
    const stopAt = start + SECONDS * 3 * 1000;
    for (let k = 0; k < WORKFLOWS && performance.now() < stopAt; k++) {
      const t0 = performance.now();
      await run(k);
      times.push(performance.now() - t0);
    }
    const seconds = (performance.now() - start) / 1000;
    const sorted = times.sort((a, b) => a - b);
    log(`workflow call ${where}-node: ${sorted.length} workflows, p50 ${quantile(sorted, 0.5)} ms, p99 ${quantile(sorted, 0.99)} ms`);
    emit({
      scenario: `workflow-call-${where}-node`,
      workflows: sorted.length,
      workflowsPerSecond: round(sorted.length / seconds, 1),
      p50Ms: quantile(sorted, 0.5),
      p99Ms: quantile(sorted, 0.99),
      meanMs: round(sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length), 3),
      loadAvg1m: round(loadavg()[0]!, 2),
      baseline: where === "cross" ? "workflow-call-same-node" : undefined,
    });
  } finally {
    ctx.close();
  }
}

/** The version stream alone: PeerVersions in this process subscribed to node 1. */
async function versionStream(layout: Layout): Promise<void> {
  const sessions = new PeerSessions();
  const versions = new PeerVersions(layout.peerUrls, CLUSTER_SECRET, sessions);
  const ctx = new ExternalContext({ url: layout.servers[1]!.url, timeoutMs: 30_000 });
  try {
    const ids: string[] = [];
    for (let n = 0; ids.length < ACTORS; n++) if (nodeOfPartition(partitionOf("bank.v1.Account", `v-${n}`, 2), 2) === 1) ids.push(`v-${n}`);
    for (const id of ids) await Account.create(ctx, id, { owner: "bench" });
    const latencies: number[] = [];
    let broken = 0;
    for (const id of ids) {
      versions.watch(1, "bank.v1.Account", id, (version, change) => {
        if (version === undefined || !change) broken++;
        else latencies.push(performance.timeOrigin + performance.now() - change.at);
      });
    }
    // Warm-up: until a commit comes through the stream (the watches are registered).
    for (let k = 0; latencies.length === 0 && k < 1_000; k++) {
      await Account.ref(ids[0]!).deposit(ctx, { amount: 1n });
      await sleep(10);
    }
    latencies.length = 0;
    const total = Math.round(SECONDS * RATE);
    const start = performance.now();
    const sent: Promise<unknown>[] = [];
    // For scale: the same deposits' round trips (send to durable reply) on this machine now.
    const replies: number[] = [];
    for (let i = 0; i < total; i++) {
      // Paced by the schedule, not by answers: a steady commit rate.
      const due = start + (i * 1000) / RATE;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const t0 = performance.now();
      sent.push(Account.ref(ids[i % ACTORS]!).deposit(ctx, { amount: 1n }).then(() => replies.push(performance.now() - t0)));
    }
    await Promise.all(sent);
    const seconds = (performance.now() - start) / 1000;
    const deadline = Date.now() + 10_000;
    while (latencies.length < total && Date.now() < deadline) await sleep(10);
    const sorted = latencies.sort((a, b) => a - b);
    const at = (q: number) => round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN, 3);
    const p99 = at(0.99);
    const rs = replies.sort((a, b) => a - b);
    const replyAt = (q: number) => round(rs[Math.min(rs.length - 1, Math.floor(q * rs.length))] ?? NaN, 3);
    log(`version stream: ${sorted.length}/${total} changes, p50 ${at(0.5)} ms, p99 ${p99} ms; deposit round trip p50 ${replyAt(0.5)} ms, p99 ${replyAt(0.99)} ms`);
    emit({
      scenario: "version-stream-cross-node",
      commitsPerSecond: round(total / seconds, 1),
      commits: total,
      received: sorted.length,
      brokenStreams: broken,
      p50Ms: at(0.5),
      p99Ms: p99,
      maxMs: round(sorted.at(-1) ?? NaN, 3),
      depositRoundTripP50Ms: replyAt(0.5),
      depositRoundTripP99Ms: replyAt(0.99),
      loadAvg1m: round(loadavg()[0]!, 2),
      target: "p99 < 20 ms at 100 commits/s",
      meetsTarget: p99 < 20 && sorted.length === total,
    });
  } finally {
    ctx.close();
    versions.close();
    sessions.close();
  }
}

runBench(main);
