/**
 * `npm run bench:version-stream`: commit → subscriber latency of the
 * cross-node version stream (DESIGN.md §9). Two nodes started as pods; a
 * subscriber (this process, with the class a node uses: PeerVersions over
 * a pooled HTTP/2 session) watches 50 actors node 1 owns while deposits
 * commit on them at a steady 100/s. Latency: the owner's commit time (in
 * the change line) to the line's arrival here, on one machine's clock.
 * One JSON line. Target: p99 < 20 ms.
 *
 * Env: BENCH_SECONDS (10), BENCH_RATE (100 commits/s).
 */
import { loadavg } from "node:os";
import { ExternalContext } from "../src/index.js";
import { Account } from "../generated/bank/v1/account_cairn.js";
import { nodeOfPartition, partitionOf } from "../src/api/partition.js";
import { PeerSessions } from "../src/transport/peer-sessions.js";
import { PeerVersions } from "../src/transport/peer-versions.js";
import { round } from "./load.js";
import { CLUSTER_SECRET, startLayout, stopLayouts } from "./node-layouts.js";
import { emit, log, sleep } from "./output.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const RATE = Number(process.env.BENCH_RATE ?? 100);
const ACTORS = 50;

async function main(): Promise<void> {
  const layout = await startLayout("pods-2", 2, "pods");
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
    await stopLayouts();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  },
);
