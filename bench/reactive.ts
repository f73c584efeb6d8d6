/**
 * Reactive reader fan-out: `npx tsx bench/reactive.ts` (one JSON line per
 * scenario on stdout, progress on stderr). Three kinds of process, so that
 * the bench measures the server and not its own client:
 *
 * - the server child (this file, forked with `server`);
 * - BENCH_REACTIVE_CLIENTS subscriber children (this file, forked with
 *   `subscribers`), each holding its share of the subscriptions over its own
 *   HTTP/2 connections and decoding their messages;
 * - this driver, which creates the actors and runs the writer on its own
 *   connection, so decoding stream messages cannot delay the writer.
 *
 * All over 127.0.0.1; the driver stops only the children it forked, by PID.
 *
 * The subscriber client, BENCH_REACTIVE_CLIENT (in each line as `client`).
 * `frames` and `raw` send POST /cairn.v1.Reactive/Watch (Connect, binary)
 * with one enveloped WatchRequest per subscriber, split the response into
 * envelopes (across chunks; flag 0x02 ends it) and read the stamp (see
 * `stampOf`). Why not just the real client: 1,000 real subscribers would be
 * 1,000 client machines, each paying for its own messages; here they share
 * the server's 2 cores, so the bench should spend as little client CPU per
 * message as it can, to measure the server.
 * - `frames` (default): each subscriber is one stream of bench/h2-frames.ts,
 *   a minimal HTTP/2 client on a bare socket (one JS loop per socket read).
 * - `raw`: each subscriber is one bare `node:http2` stream on a shared
 *   session per connection (~5 µs more client JS per message).
 * - `connect`: the real client, `Probe.ref(id).reactively().get()` on
 *   ExternalContexts (connect-node), ~70 µs of client CPU per message: on 2
 *   cores the subscriber processes, not the server, are then the limit.
 *
 * - fanout-1-actor: 1,000 `Probe.ref("hot").reactively().get()` subscribers;
 *   a writer commits to "hot" at 100 commits/s for BENCH_REACTIVE_SECONDS.
 * - fanout-1000-actors: one subscriber on each of 1,000 actors; the writer
 *   commits 100/s round-robin over them.
 *
 * Delivery latency, the target's `fromCommit*`: from the moment the commit
 * is durable (the server child listens on the runtime's COMMIT_CHANNEL and
 * notes its wall clock in µs for each stamp) to the subscriber's receipt
 * (same machine, same clock). The bench server's `add` (for note "stamp")
 * sets the counter to its wall clock when the writer runs, just before the
 * commit: `p50Ms`/`p99Ms` count from there, the commit's own fsync
 * included. Also reported: latency from the writer's reply (the commit
 * acknowledged), which can be negative. The subscriber children send their
 * samples back over IPC as histograms (4 significant digits).
 *
 * A reactive reader coalesces: a subscriber that falls behind gets the newest
 * response, not every one, so `deliveries` can be below `expectedDeliveries`
 * (one per commit per subscriber of its actor); `perSubscriber` gives the
 * commits each subscriber's actor got vs. what it received.
 *
 * Env: BENCH_REACTIVE_CLIENT (frames | raw | connect), BENCH_REACTIVE_SUBSCRIBERS (1000), BENCH_REACTIVE_RATE (100 /s),
 * BENCH_REACTIVE_SECONDS (5), BENCH_REACTIVE_CLIENTS (2 subscriber
 * processes), BENCH_REACTIVE_CONNECTIONS (10, HTTP/2 connections over all
 * subscriber processes), BENCH_ONLY=fanout-1-actor,fanout-1000-actors,
 * BENCH_CPU_PROF=1.
 */
import type { ChildProcess } from "node:child_process";
import { subscribe } from "node:diagnostics_channel";
import { setMaxListeners } from "node:events";
import * as http2 from "node:http2";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import type { WriterContext } from "../src/index.js";
import { Application, COMMIT_CHANNEL, ExternalContext, type CommitMessage } from "../src/index.js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { WatchRequestSchema, WatchResponseSchema } from "../generated/cairn/v1/reactive_pb.js";
import { Probe } from "../generated/probe/v1/probe_cairn.js";
import { GetRequestSchema, ProbeSchema, ProbeViewSchema, type AddRequest, type Probe as ProbeState } from "../generated/probe/v1/probe_pb.js";
import { ProbeServicerImpl } from "../test/fixtures/probe-servicer.js";
import { H2Connection } from "./h2-frames.js";
import { forkBenchChild, serveAsBenchChild, startChildServer, stopChild, type ServerChild } from "./child.js";
import { round } from "./load.js";
import { emit, log, sleep, wanted, runBench } from "./output.js";

const SUBSCRIBERS = Number(process.env.BENCH_REACTIVE_SUBSCRIBERS ?? 1_000);
const RATE = Number(process.env.BENCH_REACTIVE_RATE ?? 100);
const SECONDS = Number(process.env.BENCH_REACTIVE_SECONDS ?? 5);
const CLIENTS = Math.max(1, Number(process.env.BENCH_REACTIVE_CLIENTS ?? 2));
const CLIENT = process.env.BENCH_REACTIVE_CLIENT ?? "frames";
if (CLIENT !== "frames" && CLIENT !== "raw" && CLIENT !== "connect") {
  throw new Error(`BENCH_REACTIVE_CLIENT must be frames, raw or connect, not ${CLIENT}`);
}
const CONNECTIONS = Math.max(CLIENTS, Number(process.env.BENCH_REACTIVE_CONNECTIONS ?? 10));
const TARGET_P99_MS = 20;

/** Wall clock in µs, comparable across processes on this machine. */
const nowMicros = (): number => (performance.timeOrigin + performance.now()) * 1000;

// ---- histograms (samples in ms, kept to 4 significant digits) ---------------

/** [value, count] pairs. */
type Histogram = Array<[number, number]>;

function histogram(samples: readonly number[]): Histogram {
  const counts = new Map<number, number>();
  for (const x of samples) {
    const v = x === 0 || !Number.isFinite(x) ? x : Number(x.toPrecision(4));
    counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  return [...counts];
}

/** Merged histograms, sorted, with the same rank rule as load.ts's `percentile`. */
class Merged {
  readonly #pairs: Histogram;
  readonly count: number;
  constructor(histograms: readonly Histogram[]) {
    this.#pairs = histograms.flat().sort((a, b) => a[0] - b[0]);
    this.count = this.#pairs.reduce((n, [, c]) => n + c, 0);
  }
  percentile(p: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.min(this.count - 1, Math.max(0, Math.ceil(p * this.count) - 1));
    let seen = 0;
    for (const [v, c] of this.#pairs) {
      seen += c;
      if (seen > rank) return v;
    }
    return this.#pairs[this.#pairs.length - 1]![0];
  }
  get max(): number {
    return this.count === 0 ? NaN : this.#pairs[this.#pairs.length - 1]![0];
  }
}

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
  // When each stamp's commit became durable (wall clock, µs), from the
  // runtime's commit channel: where "from commit" latency starts.
  const durableAt = new Map<string, number>();
  subscribe(COMMIT_CHANNEL, (m) => {
    const commit = m as CommitMessage;
    durableAt.set(String((commit.state as ProbeState).counter), nowMicros());
  });
  // (The child's stats counters carry them: stamp → µs.)
  serveAsBenchChild(
    app.port,
    async () => {
      await app.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
    () => Object.fromEntries(durableAt),
  );
}

/** This file's server mode, as a bench child. */
function startReactiveServer(): Promise<ServerChild> {
  return startChildServer("reactive.ts", ["server"], "server-reactive");
}

// ---- the subscriber children ------------------------------------------------

/** Driver → subscriber child. Stamps travel as decimal strings (IPC is JSON). */
type ToSubscribers =
  | { type: "subscribe"; url: string; actors: string[]; connections: number }
  | { type: "measure" }
  | { type: "settle"; last: Array<[string, string]>; timeoutMs: number }
  | { type: "report"; replyAt: Array<[string, number]>; commitAt: Array<[string, number]> }
  | { type: "unsubscribe" }
  | { type: "stop" };

/** Subscriber child → driver. */
type FromSubscribers =
  | { type: "started" }
  | { type: "subscribed"; ready: number; errors: number; firstError?: string }
  | { type: "measuring" }
  | { type: "settled"; ok: boolean }
  | {
      type: "report";
      fromStamp: Histogram;
      fromReply: Histogram;
      fromCommit: Histogram;
      /** Per subscriber (in `actors` order), items received while measuring. */
      delivered: number[];
      errors: number;
      firstError?: string;
      cpuUs: number;
      wallMs: number;
    }
  | { type: "unsubscribed" };

function subscriberChild(): void {
  if (!process.send) throw new Error("`bench/reactive.ts subscribers` must be forked by bench/reactive.ts");
  const send = (m: FromSubscribers): void => {
    process.send?.(m);
  };
  let contexts: ExternalContext[] = [];
  let sessions: http2.ClientHttp2Session[] = [];
  let connections: H2Connection[] = [];
  let stop = new AbortController();
  let actors: string[] = [];
  let lastSeen: number[] = [];
  let delivered: number[] = [];
  let fromStamp: number[] = [];
  /** Receipts while measuring: stamp (µs), wall time (µs), interleaved. */
  let receipts: number[] = [];
  let measuring = false;
  let errors = 0;
  let firstError: string | undefined;
  let cpuAt = process.cpuUsage();
  let wallAt = performance.now();

  /** Subscriber i got `stamp` at wall time `at` (µs). */
  const receive = (i: number, stamp: number, at: number): void => {
    lastSeen[i] = stamp;
    if (!measuring) return;
    delivered[i]!++;
    fromStamp.push((at - stamp) / 1000);
    receipts.push(stamp, at);
  };

  const subscribe = async (m: Extract<ToSubscribers, { type: "subscribe" }>): Promise<void> => {
    stop = new AbortController();
    setMaxListeners(0, stop.signal); // one signal ends every subscriber
    actors = m.actors;
    lastSeen = new Array<number>(actors.length).fill(-1);
    delivered = new Array<number>(actors.length).fill(0);
    fromStamp = [];
    receipts = [];
    errors = 0;
    firstError = undefined;
    let ready = 0;
    const signal = stop.signal;
    const allReady = new Promise<void>((resolve) => {
      if (actors.length === 0) resolve();
      const onFirst = () => {
        if (++ready === actors.length) resolve();
      };
      const onError = (first: boolean, e: unknown) => {
        if (signal.aborted) return;
        errors++;
        firstError ??= e instanceof Error ? e.message : String(e);
        if (first) onFirst();
      };
      if (CLIENT === "frames") {
        const { hostname, port } = new URL(m.url);
        connections = Array.from({ length: m.connections }, () => new H2Connection(hostname, Number(port)));
        for (let i = 0; i < actors.length; i++) {
          framesWatch(connections[i % connections.length]!, actors[i]!, signal, subscriber(signal, onFirst, (stamp, at) => receive(i, stamp, at), onError));
        }
      } else if (CLIENT === "raw") {
        sessions = Array.from({ length: m.connections }, () => {
          const session = http2.connect(m.url);
          session.on("error", () => {}); // each stream reports its own failure
          return session;
        });
        for (let i = 0; i < actors.length; i++) {
          rawWatch(sessions[i % sessions.length]!, actors[i]!, signal, subscriber(signal, onFirst, (stamp, at) => receive(i, stamp, at), onError));
        }
      } else {
        contexts = Array.from({ length: m.connections }, () => new ExternalContext({ url: m.url, timeoutMs: 60_000 }));
        for (let i = 0; i < actors.length; i++) {
          const ctx = contexts[i % contexts.length]!;
          void (async () => {
            let first = true;
            try {
              for await (const v of Probe.ref(actors[i]!).reactively(signal).get(ctx)) {
                const at = nowMicros();
                const stamp = Number(v.counter);
                if (first) {
                  first = false;
                  lastSeen[i] = stamp;
                  onFirst();
                  continue;
                }
                receive(i, stamp, at);
              }
            } catch (e) {
              onError(first, e);
            }
          })();
        }
      }
    });
    await Promise.race([allReady, sleep(60_000)]);
    send({ type: "subscribed", ready, errors, ...(firstError !== undefined ? { firstError } : {}) });
  };

  const settle = async (m: Extract<ToSubscribers, { type: "settle" }>): Promise<void> => {
    const last = new Map(m.last.map(([actor, stamp]) => [actor, Number(stamp)]));
    const settled = () => actors.every((a, i) => !last.has(a) || lastSeen[i] === last.get(a));
    const end = performance.now() + m.timeoutMs;
    while (!settled() && performance.now() < end) await sleep(20);
    send({ type: "settled", ok: settled() });
  };

  const report = (m: Extract<ToSubscribers, { type: "report" }>): void => {
    measuring = false;
    const cpu = process.cpuUsage(cpuAt);
    const wallMs = performance.now() - wallAt;
    /** Receipt minus `times`' time for the same stamp, in ms. */
    const since = (times: Array<[string, number]>): number[] => {
      const at = new Map(times.map(([stamp, t]) => [Number(stamp), t]));
      const out: number[] = [];
      for (let k = 0; k < receipts.length; k += 2) {
        const t = at.get(receipts[k]!);
        if (t !== undefined) out.push((receipts[k + 1]! - t) / 1000);
      }
      return out;
    };
    const fromReply = since(m.replyAt);
    const fromCommit = since(m.commitAt);
    send({
      type: "report",
      fromStamp: histogram(fromStamp),
      fromReply: histogram(fromReply),
      fromCommit: histogram(fromCommit),
      delivered,
      errors,
      ...(firstError !== undefined ? { firstError } : {}),
      cpuUs: cpu.user + cpu.system,
      wallMs,
    });
  };

  const unsubscribe = async (): Promise<void> => {
    measuring = false;
    stop.abort();
    await sleep(200);
    for (const c of contexts) c.close();
    contexts = [];
    closeSessions(sessions);
    sessions = [];
    for (const c of connections) c.close();
    connections = [];
    send({ type: "unsubscribed" });
  };

  process.on("message", (m: ToSubscribers) => {
    if (m.type === "subscribe") void subscribe(m);
    else if (m.type === "measure") {
      fromStamp = [];
      receipts = [];
      delivered.fill(0);
      cpuAt = process.cpuUsage();
      wallAt = performance.now();
      measuring = true;
      send({ type: "measuring" });
    } else if (m.type === "settle") void settle(m);
    else if (m.type === "report") report(m);
    else if (m.type === "unsubscribe") void unsubscribe();
    else if (m.type === "stop") {
      stop.abort();
      for (const c of contexts) c.close();
      closeSessions(sessions);
      for (const c of connections) c.close();
      process.exit(0);
    }
  });
  // The driver went away without saying stop: do not linger.
  process.on("disconnect", () => process.exit(0));
  setTimeout(() => process.exit(3), 300_000).unref();
  send({ type: "started" });
}

// ---- the raw subscriber client ---------------------------------------------

/** `Probe.get` of `actor` as a Connect Watch request body: one envelope. */
function watchBody(actor: string): Buffer {
  const request = toBinary(GetRequestSchema, create(GetRequestSchema));
  const watch = toBinary(WatchRequestSchema, create(WatchRequestSchema, { stateType: ProbeSchema.typeName, actorId: actor, method: "Get", request }));
  const body = Buffer.allocUnsafe(5 + watch.length);
  body[0] = 0;
  body.writeUInt32BE(watch.length, 1);
  body.set(watch, 5);
  return body;
}

interface Subscriber {
  item(stamp: number, at: number): void;
  fail(e: unknown): void;
}

/**
 * One subscriber's callbacks: each item goes to `onItem` (the first only
 * records the stamp: not measuring yet) and the first also to `onFirst`;
 * the first failure, unless aborted, to `onError` (`first`: before any item).
 */
function subscriber(
  signal: AbortSignal,
  onFirst: () => void,
  onItem: (stamp: number, at: number) => void,
  onError: (first: boolean, e: unknown) => void,
): Subscriber {
  let first = true;
  let failed = false;
  return {
    item: (stamp, at) => {
      onItem(stamp, at);
      if (first) {
        first = false;
        onFirst();
      }
    },
    fail: (e) => {
      if (failed || signal.aborted) return;
      failed = true;
      onError(first, e);
    },
  };
}

/**
 * One subscriber as a bare HTTP/2 stream on `session`: POST
 * /cairn.v1.Reactive/Watch (Connect, binary), then each enveloped
 * WatchResponse → ProbeView → its stamp, to `subscriber`'s callbacks.
 */
function rawWatch(session: http2.ClientHttp2Session, actor: string, signal: AbortSignal, { item, fail }: Subscriber): void {
  let stream: http2.ClientHttp2Stream;
  try {
    stream = session.request({
      ":method": "POST",
      ":path": "/cairn.v1.Reactive/Watch",
      "content-type": "application/connect+proto",
      "connect-protocol-version": "1",
    });
  } catch (e) {
    fail(e);
    return;
  }
  const onAbort = () => stream.close(http2.constants.NGHTTP2_CANCEL);
  signal.addEventListener("abort", onAbort, { once: true });
  stream.on("response", (headers) => {
    const status = headers[":status"];
    if (status !== 200) fail(new Error(`Watch answered HTTP ${status}`));
  });
  let ended = false;
  const read = watchResponses(item, (e) => {
    ended = true;
    fail(e);
  });
  stream.on("data", read);
  stream.on("error", (e) => fail(e));
  stream.on("close", () => {
    signal.removeEventListener("abort", onAbort);
    if (!signal.aborted && !ended) fail(new Error(`Watch stream closed (code ${stream.rstCode})`));
  });
  stream.end(watchBody(actor));
}

/**
 * A Watch response body, chunk by chunk → each item's stamp, with the wall
 * time (µs) of the chunk it came in. Envelopes may span chunks; the
 * end-stream envelope (flag 0x02) ends it, with its error if any.
 */
function watchResponses(onItem: (stamp: number, at: number) => void, onEnd: (e: Error) => void): (chunk: Buffer) => void {
  // Bytes not yet parsed.
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    const at = nowMicros();
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let offset = 0;
    while (pending.length - offset >= 5) {
      const flags = pending[offset]!;
      const length = pending.readUInt32BE(offset + 1);
      if (pending.length - offset - 5 < length) break;
      const data = pending.subarray(offset + 5, offset + 5 + length);
      offset += 5 + length;
      if (flags & 0x02) {
        const end = JSON.parse(data.toString("utf8")) as { error?: { code?: string; message?: string } };
        onEnd(end.error ? new Error(`Watch ended: ${end.error.code ?? "unknown"}: ${end.error.message ?? ""}`) : new Error("Watch ended without an error"));
        continue;
      }
      let stamp: number;
      try {
        stamp = stampOf(data);
      } catch (e) {
        onEnd(e instanceof Error ? e : new Error(String(e)));
        continue;
      }
      onItem(stamp, at);
    }
    pending = offset === pending.length ? Buffer.alloc(0) : pending.subarray(offset);
  };
}

/**
 * The stamp in a WatchResponse: ProbeView.counter (field 1, varint) inside
 * WatchResponse.response (field 1, bytes), read by hand: protobuf-es's two
 * decodes were most of the subscriber's CPU per message. Any other shape is
 * decoded by protobuf-es (and so checked).
 */
function stampOf(data: Buffer): number {
  // 0x0a <len> 0x08 <varint counter> …: response's tag, its length, counter's tag.
  if (data.length > 3 && data[0] === 0x0a && data[1]! < 0x80 && data[1] === data.length - 2 && data[2] === 0x08) {
    let value = 0;
    let scale = 1;
    for (let i = 3; i < data.length; i++) {
      const b = data[i]!;
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 128;
    }
  }
  return Number(fromBinary(ProbeViewSchema, fromBinary(WatchResponseSchema, data).response).counter);
}

/** `rawWatch` on a bench/h2-frames.ts connection: the same request, read from frames. */
function framesWatch(conn: H2Connection, actor: string, signal: AbortSignal, { item, fail }: Subscriber): void {
  const read = watchResponses(item, fail);
  let id: number;
  try {
    id = conn.post("/cairn.v1.Reactive/Watch", WATCH_HEADERS, watchBody(actor), {
      data: read,
      end: (e) => fail(e ?? new Error("Watch stream ended")),
    });
  } catch (e) {
    fail(e);
    return;
  }
  signal.addEventListener("abort", () => conn.cancel(id), { once: true });
}

const WATCH_HEADERS = [
  ["content-type", "application/connect+proto"],
  ["connect-protocol-version", "1"],
] as const;

function closeSessions(sessions: readonly http2.ClientHttp2Session[]): void {
  for (const s of sessions) {
    if (!s.closed && !s.destroyed) s.close();
    // Bounded: whatever is still open after a second goes.
    setTimeout(() => s.destroy(), 1_000).unref();
  }
}

/** A forked subscriber child, driven over IPC. */
class Subscribers {
  readonly #child: ChildProcess;
  readonly pid: number;

  private constructor(child: ChildProcess, pid: number) {
    this.#child = child;
    this.pid = pid;
  }

  static async start(index: number): Promise<Subscribers> {
    const child = forkBenchChild("reactive.ts", ["subscribers"], `subscribers-${index}`);
    const pid = child.pid;
    if (pid === undefined) throw new Error("could not fork a subscriber child");
    const s = new Subscribers(child, pid);
    try {
      await s.#next("started", 30_000);
    } catch (e) {
      process.kill(pid, "SIGKILL");
      throw e;
    }
    return s;
  }

  /** Sends `m` and waits (bounded) for the reply of type `reply`. */
  ask<T extends FromSubscribers["type"]>(m: ToSubscribers, reply: T, timeoutMs: number): Promise<Extract<FromSubscribers, { type: T }>> {
    const answer = this.#next(reply, timeoutMs);
    this.#child.send(m);
    return answer;
  }

  #next<T extends FromSubscribers["type"]>(type: T, timeoutMs: number): Promise<Extract<FromSubscribers, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`subscriber child ${this.pid}: no ${type} after ${timeoutMs} ms`));
      }, timeoutMs);
      const onMessage = (m: FromSubscribers): void => {
        if (m.type !== type) return;
        cleanup();
        resolve(m as Extract<FromSubscribers, { type: T }>);
      };
      const onExit = (code: number | null): void => {
        cleanup();
        reject(new Error(`subscriber child ${this.pid} exited (${code}) waiting for ${type}`));
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        this.#child.off("message", onMessage);
        this.#child.off("exit", onExit);
      };
      this.#child.on("message", onMessage);
      this.#child.once("exit", onExit);
    });
  }

  stop(): Promise<void> {
    return stopChild(this.#child, this.pid, () => this.#child.send({ type: "stop" } satisfies ToSubscribers));
  }
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

async function runScenario(server: ServerChild, writer: ExternalContext, clients: Subscribers[], s: Scenario): Promise<object> {
  log(`${s.name}: creating ${s.actors.length} actors`);
  for (let k = 0; k < s.actors.length; k += 50) {
    await Promise.all(s.actors.slice(k, k + 50).map((id) => Probe.ref(id).add(writer, { amount: 0n, note: "stamp" })));
  }
  // Subscriber i lives in child i % CLIENTS; connections are split evenly.
  const shares = clients.map((_, c) => Array.from({ length: SUBSCRIBERS }, (_, i) => i).filter((i) => i % clients.length === c));
  const connectionsOf = (c: number) => Math.floor(CONNECTIONS / clients.length) + (c < CONNECTIONS % clients.length ? 1 : 0);
  log(`${s.name}: ${SUBSCRIBERS} subscribers in ${clients.length} processes over ${CONNECTIONS} connections`);
  const t0 = performance.now();
  const subscribed = await Promise.all(
    clients.map((client, c) =>
      client.ask({ type: "subscribe", url: server.url, actors: shares[c]!.map(s.subscriberActor), connections: connectionsOf(c) }, "subscribed", 70_000),
    ),
  );
  const ready = subscribed.reduce((n, r) => n + r.ready, 0);
  log(`${s.name}: ${ready}/${SUBSCRIBERS} subscribers had their first item after ${round(performance.now() - t0, 0)} ms`);
  await Promise.all(clients.map((client) => client.ask({ type: "measure" }, "measuring", 10_000)));

  // The writer: RATE commits/s on schedule, one at a time, for SECONDS.
  const commits = Math.round(RATE * SECONDS);
  const replyAt = new Map<string, number>(); // stamp → writer's reply wall time (µs)
  let writeErrors = 0;
  const writeLatencies: number[] = [];
  const lastCommit = new Map<string, bigint>();
  /** Commits per actor. */
  const commitsOn = new Map<string, number>();
  const before = await server.stats();
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  let late = 0;
  const deadline = start + SECONDS * 1000 + 2_000; // bounded even when commits fall behind
  let committed = 0;
  for (let n = 0; n < commits && performance.now() < deadline; n++) {
    const due = start + (n * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    else if (wait < -1000 / RATE) late++;
    const sent = performance.now();
    const actor = s.writeActor(n);
    try {
      const r = await Probe.ref(actor).add(writer, { amount: 0n, note: "stamp" });
      replyAt.set(String(r.counter), nowMicros());
      lastCommit.set(actor, r.counter);
      commitsOn.set(actor, (commitsOn.get(actor) ?? 0) + 1);
      writeLatencies.push(performance.now() - sent);
      committed++;
    } catch {
      writeErrors++;
    }
  }
  const writeSeconds = (performance.now() - start) / 1000;
  const writerCpu = process.cpuUsage(cpuBefore);
  const writerWallMs = performance.now() - start;
  // Deliveries in flight: wait (bounded) until the subscribers have the last commit.
  const settleStart = performance.now();
  const last = [...lastCommit].map(([a, stamp]): [string, string] => [a, String(stamp)]);
  const settled = (await Promise.all(clients.map((client) => client.ask({ type: "settle", last, timeoutMs: 10_000 }, "settled", 15_000)))).every(
    (r) => r.ok,
  );
  const settleMs = round(performance.now() - settleStart, 0);
  const after = await server.stats();
  const replies = [...replyAt];
  const commitAt = Object.entries(after.counters);
  const reports = await Promise.all(clients.map((client) => client.ask({ type: "report", replyAt: replies, commitAt }, "report", 30_000)));
  await Promise.all(clients.map((client) => client.ask({ type: "unsubscribe" }, "unsubscribed", 15_000)));

  // Per subscriber: commits on its actor (each one a delivery without coalescing) vs. items received.
  const expectedOf = (i: number) => commitsOn.get(s.subscriberActor(i)) ?? 0;
  let expected = 0;
  let short = 0;
  const deliveredEach: number[] = [];
  const ratios: number[] = [];
  reports.forEach((r, c) =>
    shares[c]!.forEach((i, k) => {
      const e = expectedOf(i);
      const d = r.delivered[k] ?? 0;
      expected += e;
      if (d < e) short++;
      deliveredEach.push(d);
      if (e > 0) ratios.push(d / e);
    }),
  );
  deliveredEach.sort((a, b) => a - b);
  ratios.sort((a, b) => a - b);
  const expectedEach = Array.from({ length: SUBSCRIBERS }, (_, i) => expectedOf(i));
  const q = (xs: number[], p: number) => (xs.length ? xs[Math.min(xs.length - 1, Math.max(0, Math.ceil(p * xs.length) - 1))]! : NaN);

  const fromStamp = new Merged(reports.map((r) => r.fromStamp));
  const fromReply = new Merged(reports.map((r) => r.fromReply));
  const fromCommit = new Merged(reports.map((r) => r.fromCommit));
  const writes = new Merged([histogram(writeLatencies)]);
  const subscriberErrors = subscribed.reduce((n, r) => n + r.errors, 0) + reports.reduce((n, r) => n + r.errors, 0);
  const firstError = [...subscribed, ...reports].find((r) => r.firstError !== undefined)?.firstError;
  const wallMs = after.at - before.at;
  const p99 = round(fromCommit.percentile(0.99), 3);
  const line = {
    scenario: s.name,
    transport: "connect",
    client: CLIENT,
    subscribers: SUBSCRIBERS,
    actors: s.actors.length,
    subscriberProcesses: clients.length,
    connections: CONNECTIONS,
    commitsPlanned: commits,
    commits: committed,
    commitRate: round(committed / writeSeconds, 1),
    lateCommits: late,
    writeErrors,
    writeP50Ms: round(writes.percentile(0.5), 3),
    writeP99Ms: round(writes.percentile(0.99), 3),
    deliveries: fromStamp.count,
    expectedDeliveries: expected,
    coalescedOrMissing: expected - fromStamp.count,
    perSubscriber: {
      commitsMin: Math.min(...expectedEach),
      commitsMax: Math.max(...expectedEach),
      deliveredMin: q(deliveredEach, 0),
      deliveredP50: q(deliveredEach, 0.5),
      deliveredMax: q(deliveredEach, 1),
      deliveredOfCommitsMin: round(q(ratios, 0), 3),
      deliveredOfCommitsP50: round(q(ratios, 0.5), 3),
      subscribersShort: short,
    },
    subscriberErrors,
    allSawLastCommit: settled,
    settleMs,
    ...(firstError !== undefined ? { firstError } : {}),
    p50Ms: round(fromStamp.percentile(0.5), 3),
    p99Ms: round(fromStamp.percentile(0.99), 3),
    maxMs: round(fromStamp.max, 3),
    fromReplyP50Ms: round(fromReply.percentile(0.5), 3),
    fromReplyP99Ms: round(fromReply.percentile(0.99), 3),
    fromCommitP50Ms: round(fromCommit.percentile(0.5), 3),
    fromCommitP99Ms: p99,
    fromCommitMaxMs: round(fromCommit.max, 3),
    fromCommitSamples: fromCommit.count,
    serverCpuPct: round(((after.cpuUs - before.cpuUs) / 1000 / wallMs) * 100, 1),
    serverRssMB: round(after.rssBytes / 2 ** 20, 1),
    serverHeapUsedMB: round(after.heapUsedBytes / 2 ** 20, 1),
    /** Each subscriber child's CPU over its measuring window (writing and settling). */
    clientCpuPct: reports.map((r) => round((r.cpuUs / 1000 / r.wallMs) * 100, 1)),
    writerCpuPct: round(((writerCpu.user + writerCpu.system) / 1000 / writerWallMs) * 100, 1),
    loadAvg1m: round(loadavg()[0]!, 2),
    target: `p99 < ${TARGET_P99_MS} ms from commit to each subscriber`,
    meetsTarget:
      p99 < TARGET_P99_MS &&
      settled &&
      committed === commits &&
      writeErrors === 0 &&
      subscriberErrors === 0 &&
      fromStamp.count > 0 &&
      fromCommit.count === fromStamp.count,
  };
  log(
    `${s.name}: from commit p50 ${line.fromCommitP50Ms} ms, p99 ${line.fromCommitP99Ms} ms (from the stamp p99 ${line.p99Ms} ms), ` +
      `${line.deliveries}/${expected} deliveries, ` +
      `${committed}/${commits} commits, server CPU ${line.serverCpuPct}%, client CPU ${line.clientCpuPct.join("/")}%`,
  );
  return line;
}

async function main(): Promise<void> {
  const server = await startReactiveServer();
  log(`reactive server pid ${server.pid} on ${server.url}`);
  const clients: Subscribers[] = [];
  const writer = new ExternalContext({ url: server.url, timeoutMs: 30_000 });
  try {
    for (let c = 0; c < CLIENTS; c++) clients.push(await Subscribers.start(c));
    log(`subscriber pids ${clients.map((c) => c.pid).join(", ")}`);
    if (wanted("fanout-1-actor")) {
      emit(await runScenario(server, writer, clients, { name: "fanout-1-actor", subscriberActor: () => "hot", writeActor: () => "hot", actors: ["hot"] }));
    }
    if (wanted("fanout-1000-actors")) {
      const actors = Array.from({ length: SUBSCRIBERS }, (_, i) => `fan-${i}`);
      emit(
        await runScenario(server, writer, clients, {
          name: "fanout-1000-actors",
          subscriberActor: (i) => actors[i]!,
          writeActor: (n) => actors[n % actors.length]!,
          actors,
        }),
      );
    }
  } finally {
    writer.close();
    await Promise.all(clients.map((c) => c.stop()));
    log(`subscriber pids ${clients.map((c) => c.pid).join(", ")} stopped`);
    await server.stop();
    log(`server pid ${server.pid} stopped`);
  }
}

if (process.argv[2] === "server") {
  serve().catch((e: unknown) => {
    console.error("bench reactive server:", e);
    process.exit(1);
  });
} else if (process.argv[2] === "subscribers") {
  subscriberChild();
} else {
  const hard = setTimeout(() => {
    console.error("bench reactive: over 240 s; giving up");
    process.exit(1);
  }, 240_000);
  hard.unref();
  runBench(main);
}
