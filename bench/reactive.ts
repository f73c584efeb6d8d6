/**
 * Reactive reader fan-out: `npx tsx bench/reactive.ts` (one JSON line per
 * scenario on stdout, progress on stderr). The server runs in a child
 * process (this file, forked with `server`); subscribers and the writer live
 * here, over 127.0.0.1, spread over a few HTTP/2 connections (ExternalContexts).
 *
 * - fanout-1-actor: 1,000 `Probe.ref("hot").reactively().get()` subscribers;
 *   a writer commits to "hot" at 100 commits/s for BENCH_REACTIVE_SECONDS.
 * - fanout-1000-actors: one subscriber on each of 1,000 actors; the writer
 *   commits 100/s round-robin over them.
 *
 * Delivery latency: the bench server's `add` (for note "stamp") sets the
 * counter to its wall clock in µs when the writer runs, just before the
 * commit; each subscriber subtracts that from its wall clock on receipt
 * (same machine, same clock). Also reported: latency from the writer's reply
 * (the commit acknowledged), which can be negative.
 *
 * Env: BENCH_REACTIVE_SUBSCRIBERS (1000), BENCH_REACTIVE_RATE (100 /s),
 * BENCH_REACTIVE_SECONDS (5), BENCH_REACTIVE_CONNECTIONS (10),
 * BENCH_ONLY=fanout-1-actor,fanout-1000-actors.
 */
import { setMaxListeners } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import type { WriterContext } from "../src/index.js";
import { Application, ExternalContext } from "../src/index.js";
import { Probe } from "../generated/probe/v1/probe_cairn.js";
import type { AddRequest, Probe as ProbeState } from "../generated/probe/v1/probe_pb.js";
import { ProbeServicerImpl } from "../test/fixtures/probe-servicer.js";
import { serveAsBenchChild, startChildServer, type ServerChild, type ServerStats } from "./child.js";
import { percentile, round } from "./load.js";

const SUBSCRIBERS = Number(process.env.BENCH_REACTIVE_SUBSCRIBERS ?? 1_000);
const RATE = Number(process.env.BENCH_REACTIVE_RATE ?? 100);
const SECONDS = Number(process.env.BENCH_REACTIVE_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_REACTIVE_CONNECTIONS ?? 10);
const TARGET_P99_MS = 20;
const ONLY = process.env.BENCH_ONLY?.split(",").map((s) => s.trim());
const wanted = (s: string): boolean => !ONLY || ONLY.includes(s);

const log = (s: string): void => {
  process.stderr.write(`bench: ${s}\n`);
};
const emit = (line: object): void => {
  process.stdout.write(`${JSON.stringify(line)}\n`);
};
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/** Wall clock in µs, comparable across processes on this machine. */
const nowMicros = (): number => (performance.timeOrigin + performance.now()) * 1000;

// ---- the server child -----------------------------------------------------

/** The probe, with `add({note: "stamp"})` setting the counter to the server's clock (µs). */
class StampingProbe extends ProbeServicerImpl {
  override async add(ctx: WriterContext, state: ProbeState, req: AddRequest) {
    if (req.note !== "stamp") return super.add(ctx, state, req);
    state.counter = BigInt(Math.round(nowMicros()));
    return { counter: state.counter, log: [], flag: state.flag };
  }
}

async function serve(): Promise<void> {
  if (!process.send) throw new Error("`bench/reactive.ts server` must be forked by bench/reactive.ts");
  const dataDir = mkdtempSync(join(tmpdir(), "cairn-bench-reactive-"));
  const app = new Application({ servicers: [StampingProbe], dataDir, host: "127.0.0.1", port: 0 });
  await app.start();
  serveAsBenchChild(app.port, async () => {
    await app.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
}

/** This file's server mode, as a bench child. */
function startReactiveServer(): Promise<ServerChild> {
  return startChildServer("reactive.ts", ["server"], "server-reactive");
}

// ---- one scenario -----------------------------------------------------------

interface Scenario {
  name: string;
  /** Actor of subscriber i. */
  subscriberActor: (i: number) => string;
  /** Actor of commit n. */
  writeActor: (n: number) => string;
  /** Distinct actors (created before subscribing). */
  actors: string[];
}

async function runScenario(server: ServerChild, contexts: ExternalContext[], s: Scenario): Promise<object> {
  const writer = contexts[0]!;
  log(`${s.name}: creating ${s.actors.length} actors`);
  for (let k = 0; k < s.actors.length; k += 50) {
    await Promise.all(s.actors.slice(k, k + 50).map((id) => Probe.ref(id).add(writer, { amount: 0n, note: "stamp" })));
  }
  const stop = new AbortController();
  setMaxListeners(0, stop.signal); // one signal ends every subscriber
  /** Receipt latencies (ms) from the server's stamp, and receipt wall times with their stamps. */
  const fromStamp: number[] = [];
  const receipts: Array<{ stamp: bigint; at: number }> = [];
  let ready = 0;
  let subscriberErrors = 0;
  let firstError: string | undefined;
  let measuring = false;
  /** Per subscriber, the stamp of the newest item it received. */
  const lastSeen: bigint[] = new Array<bigint>(SUBSCRIBERS).fill(-1n);
  log(`${s.name}: ${SUBSCRIBERS} subscribers over ${contexts.length} connections`);
  const allReady = new Promise<void>((resolve) => {
    for (let i = 0; i < SUBSCRIBERS; i++) {
      const ctx = contexts[i % contexts.length]!;
      void (async () => {
        let first = true;
        try {
          for await (const v of Probe.ref(s.subscriberActor(i)).reactively(stop.signal).get(ctx)) {
            const at = nowMicros();
            lastSeen[i] = v.counter;
            if (first) {
              first = false;
              if (++ready === SUBSCRIBERS) resolve();
              continue;
            }
            if (!measuring) continue;
            fromStamp.push((at - Number(v.counter)) / 1000);
            receipts.push({ stamp: v.counter, at });
          }
        } catch (e) {
          if (!stop.signal.aborted) {
            subscriberErrors++;
            firstError ??= e instanceof Error ? e.message : String(e);
            if (first && ++ready === SUBSCRIBERS) resolve();
          }
        }
      })();
    }
  });
  const t0 = performance.now();
  await Promise.race([allReady, sleep(60_000)]);
  log(`${s.name}: ${ready}/${SUBSCRIBERS} subscribers had their first item after ${round(performance.now() - t0, 0)} ms`);

  // The writer: RATE commits/s on schedule, one at a time, for SECONDS.
  const commits = Math.round(RATE * SECONDS);
  const replyAt = new Map<bigint, number>(); // stamp → writer's reply wall time (µs)
  let writeErrors = 0;
  const writeLatencies: number[] = [];
  measuring = true;
  const lastCommit = new Map<string, bigint>();
  const before = await server.stats();
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  let late = 0;
  const deadline = start + SECONDS * 1000 + 2_000; // bounded even when commits fall behind
  let committed = 0;
  for (let n = 0; n < commits && performance.now() < deadline; n++, committed++) {
    const due = start + (n * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    else if (wait < -1000 / RATE) late++;
    const sent = performance.now();
    try {
      const r = await Probe.ref(s.writeActor(n)).add(writer, { amount: 0n, note: "stamp" });
      replyAt.set(r.counter, nowMicros());
      lastCommit.set(s.writeActor(n), r.counter);
      writeLatencies.push(performance.now() - sent);
    } catch {
      writeErrors++;
    }
  }
  const writeSeconds = (performance.now() - start) / 1000;
  // Deliveries in flight: wait (bounded) until the subscribers have the last commit.
  const settleEnd = performance.now() + 10_000;
  const settled = () => lastSeen.every((seen, i) => seen === (lastCommit.get(s.subscriberActor(i)) ?? seen));
  while (!settled() && performance.now() < settleEnd) await sleep(50);
  const settleMs = round(performance.now() - settleEnd + 10_000, 0);
  const after = await server.stats();
  const cpu = process.cpuUsage(cpuBefore);
  measuring = false;
  stop.abort();
  await sleep(200);

  // Deliveries one would get without coalescing: each commit, times its subscribers.
  const subsPerActor = new Map<string, number>();
  for (let i = 0; i < SUBSCRIBERS; i++) subsPerActor.set(s.subscriberActor(i), (subsPerActor.get(s.subscriberActor(i)) ?? 0) + 1);
  let expected = 0;
  for (let n = 0; n < committed; n++) expected += subsPerActor.get(s.writeActor(n)) ?? 0;

  const sorted = Float64Array.from(fromStamp).sort();
  const fromReply = Float64Array.from(
    receipts.flatMap((r) => {
      const reply = replyAt.get(r.stamp);
      return reply === undefined ? [] : [(r.at - reply) / 1000];
    }),
  ).sort();
  const writes = Float64Array.from(writeLatencies).sort();
  const wallMs = after.at - before.at;
  const p99 = round(percentile(sorted, 0.99), 3);
  const line = {
    scenario: s.name,
    transport: "connect",
    subscribers: SUBSCRIBERS,
    actors: s.actors.length,
    connections: contexts.length,
    commitsPlanned: commits,
    commits: committed,
    commitRate: round(committed / writeSeconds, 1),
    lateCommits: late,
    writeErrors,
    writeP50Ms: round(percentile(writes, 0.5), 3),
    writeP99Ms: round(percentile(writes, 0.99), 3),
    deliveries: sorted.length,
    expectedDeliveries: expected,
    coalescedOrMissing: expected - sorted.length,
    subscriberErrors,
    allSawLastCommit: settled(),
    settleMs,
    ...(firstError !== undefined ? { firstError } : {}),
    p50Ms: round(percentile(sorted, 0.5), 3),
    p99Ms: p99,
    maxMs: round(sorted.length ? sorted[sorted.length - 1]! : NaN, 3),
    fromReplyP50Ms: round(percentile(fromReply, 0.5), 3),
    fromReplyP99Ms: round(percentile(fromReply, 0.99), 3),
    serverCpuPct: round(((after.cpuUs - before.cpuUs) / 1000 / wallMs) * 100, 1),
    serverRssMB: round(after.rssBytes / 2 ** 20, 1),
    serverHeapUsedMB: round(after.heapUsedBytes / 2 ** 20, 1),
    clientCpuPct: round(((cpu.user + cpu.system) / 1000 / wallMs) * 100, 1),
    loadAvg1m: round(loadavg()[0]!, 2),
    target: `p99 < ${TARGET_P99_MS} ms from commit to each subscriber`,
    meetsTarget: p99 < TARGET_P99_MS && settled() && committed === commits && writeErrors === 0 && subscriberErrors === 0 && sorted.length > 0,
  };
  log(`${s.name}: p50 ${line.p50Ms} ms, p99 ${line.p99Ms} ms, ${line.deliveries}/${expected} deliveries, server CPU ${line.serverCpuPct}%`);
  return line;
}

async function main(): Promise<void> {
  const server = await startReactiveServer();
  log(`reactive server pid ${server.pid} on ${server.url}`);
  const contexts = Array.from({ length: CONNECTIONS }, () => new ExternalContext({ url: server.url, timeoutMs: 30_000 }));
  try {
    if (wanted("fanout-1-actor")) {
      emit(await runScenario(server, contexts, { name: "fanout-1-actor", subscriberActor: () => "hot", writeActor: () => "hot", actors: ["hot"] }));
    }
    if (wanted("fanout-1000-actors")) {
      const actors = Array.from({ length: SUBSCRIBERS }, (_, i) => `fan-${i}`);
      emit(
        await runScenario(server, contexts, {
          name: "fanout-1000-actors",
          subscriberActor: (i) => actors[i]!,
          writeActor: (n) => actors[n % actors.length]!,
          actors,
        }),
      );
    }
  } finally {
    for (const c of contexts) c.close();
    await server.stop();
    log(`server pid ${server.pid} stopped`);
  }
}

if (process.argv[2] === "server") {
  serve().catch((e: unknown) => {
    console.error("bench reactive server:", e);
    process.exit(1);
  });
} else {
  const hard = setTimeout(() => {
    console.error("bench reactive: over 180 s; giving up");
    process.exit(1);
  }, 180_000);
  hard.unref();
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error("bench failed:", e);
      process.exit(1);
    },
  );
}
