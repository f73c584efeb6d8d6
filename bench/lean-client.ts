/**
 * A load client that is not the bottleneck, in its own process (forked by
 * bench/unary.ts): keep-alive connections and pre-encoded requests, so a
 * call costs the client a socket write and a few bytes of parsing.
 *
 * - HTTP/1.1: one raw TCP socket per call in flight (no pipelining), each
 *   request a ready buffer (request line, headers, body); the answer is
 *   read by its Content-Length (every unary answer here has one), parsed
 *   from the bytes as they are read (bench/h1-answers.ts).
 * - HTTP/2: `sessions` connections, calls spread over them by slot, a
 *   stream per call. By default (BENCH_H2_CLIENT=frames) frames are written
 *   and read straight on the socket (bench/h2-frames.ts: HEADERS and DATA
 *   of a request in one write, a read of many frames split in one loop);
 *   node:http2's client (BENCH_H2_CLIENT=node) spent more CPU per call
 *   than the floor's server, so the floor measured the client.
 *
 * Several of these processes can share a load (bench/unary.ts,
 * BENCH_CLIENTS): each takes every `stride`-th request from `offset`, so
 * together they send each request of a set once per round.
 *
 * Driver messages (IPC): `open` a named pool to host:port, `define` a named
 * request set, `load` a pool with a set for a bounded time and count, `close`.
 * Each load answers its sorted latencies; a call that does not answer 200
 * counts as an error.
 */
import * as http2 from "node:http2";
import * as net from "node:net";
import { H1Answers } from "./h1-answers.js";
import { H2Connection } from "./h2-frames.js";

export type Protocol = "h1" | "h2";

export interface RawRequest {
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Base64 (IPC carries JSON). */
  readonly body: string;
}

export type ToClient =
  | { type: "open"; pool: string; port: number; protocol: Protocol; inFlight: number; sessions?: number }
  | { type: "define"; set: string; requests: RawRequest[] }
  | { type: "load"; pool: string; set: string; seconds: number; maxCalls: number; offset?: number; stride?: number }
  | { type: "close" };

export type FromClient =
  | { type: "opened" }
  | { type: "defined" }
  | { type: "loaded"; latencies: number[]; windowMs: number; clientCpuUs: number; errors: number; firstError?: string }
  | { type: "failed"; error: string };

/** A call's end: its HTTP status, or the error that ended it. Called once per call. */
type Done = (status: number, error?: Error) => void;
/** One call in flight on a pool's connection `slot`; `done` when it ends (a callback, not a promise: one less allocation and microtask per call). */
type Caller = (slot: number, request: number, done: Done) => void;

interface Pool {
  readonly inFlight: number;
  /** Binds a request set to this pool's wire format. */
  prepare(requests: readonly RawRequest[]): Caller;
  close(): void;
}

const HOST = "127.0.0.1";

/** HTTP/1.1 over raw keep-alive sockets: one outstanding request per socket, answers read as bytes (h1-answers.ts). */
async function openHttp1(port: number, inFlight: number): Promise<Pool> {
  // Per socket: the pending call's end, cleared when it is called (an answer, an error or a close ends a call once).
  const pending: Array<Done | undefined> = [];
  const end = (slot: number, status: number, error?: Error) => {
    const done = pending[slot];
    pending[slot] = undefined;
    done?.(status, error);
  };
  const sockets = await Promise.all(
    Array.from({ length: inFlight }, (_, slot) => {
      const answers = new H1Answers(
        (status) => end(slot, status),
        (e) => end(slot, 0, e),
      );
      return new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect({ host: HOST, port, noDelay: true, onread: { buffer: answers.readBuffer, callback: answers.read } }, () => resolve(s));
        s.once("error", reject);
      });
    }),
  );
  sockets.forEach((socket, slot) => {
    const lost = (e?: Error) => end(slot, 0, e ?? new Error("connection closed"));
    socket.on("error", lost);
    socket.on("close", () => lost());
  });
  return {
    inFlight,
    prepare: (requests) => {
      const wire = requests.map((r) => {
        const body = Buffer.from(r.body, "base64");
        const lines = [`POST ${r.path} HTTP/1.1`, `Host: ${HOST}:${port}`, `Content-Length: ${body.length}`];
        for (const [k, v] of Object.entries(r.headers)) lines.push(`${k}: ${v}`);
        return Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1"), body]);
      });
      return (slot, request, done) => {
        pending[slot] = done;
        sockets[slot]!.write(wire[request % wire.length]!);
      };
    },
    close: () => sockets.forEach((s) => s.destroy()),
  };
}

/** Which HTTP/2 client: raw frames (default) or node:http2's. */
const H2_CLIENT = process.env.BENCH_H2_CLIENT ?? "frames";

/** HTTP/2 on raw frames: `count` connections, one stream per call, on the connection of its slot. */
async function openFrames(port: number, inFlight: number, count: number): Promise<Pool> {
  const connections = Array.from({ length: Math.max(1, count) }, () => new H2Connection(HOST, port));
  return {
    inFlight,
    prepare: (requests) => {
      const wire = requests.map((r) => ({ path: r.path, headers: Object.entries(r.headers), body: Buffer.from(r.body, "base64") }));
      return (slot, request, done) => {
        const w = wire[request % wire.length]!;
        let status = 0;
        connections[slot % connections.length]!.post(w.path, w.headers, w.body, {
          head: (s) => (status = s),
          data: () => {},
          end: (error) => done(status, error),
        });
      };
    },
    close: () => connections.forEach((c) => c.close()),
  };
}

/** HTTP/2: `count` sessions, one stream per call, on the session of its slot. */
async function openHttp2(port: number, inFlight: number, count: number): Promise<Pool> {
  const sessions = await Promise.all(
    Array.from({ length: Math.max(1, count) }, async () => {
      const session = http2.connect(`http://${HOST}:${port}`);
      await new Promise<void>((resolve, reject) => {
        session.once("connect", () => resolve());
        session.once("error", reject);
      });
      session.on("error", () => {});
      return session;
    }),
  );
  return {
    inFlight,
    prepare: (requests) => {
      const wire = requests.map((r) => ({
        headers: { ":method": "POST", ":path": r.path, ...r.headers } as http2.OutgoingHttpHeaders,
        body: Buffer.from(r.body, "base64"),
      }));
      return (slot, request, done) => {
        const w = wire[request % wire.length]!;
        const stream = sessions[slot % sessions.length]!.request(w.headers);
        let status = 0;
        let ended = false;
        const finish = (error?: Error) => {
          if (ended) return;
          ended = true;
          done(status, error);
        };
        stream.on("response", (h) => (status = Number(h[":status"])));
        stream.on("data", () => {});
        stream.on("end", () => finish());
        stream.on("error", finish);
        stream.end(w.body);
      };
    },
    close: () => sessions.forEach((s) => s.destroy()),
  };
}

/**
 * Keeps every slot busy until `seconds` or `maxCalls`; never starts a call
 * after that. Per call, no closure and one clock reading: each slot's
 * `done` is made once, and the time a call ends is when the slot's next
 * call begins.
 */
function load(pool: Pool, call: Caller, seconds: number, maxCalls: number, offset: number, stride: number): Promise<FromClient> {
  const latencies = new Float64Array(maxCalls);
  let measured = 0;
  let errors = 0;
  let firstError: string | undefined;
  const start = performance.now();
  const end = start + seconds * 1000;
  const cpu = process.cpuUsage();
  return new Promise<FromClient>((resolve) => {
    let active = pool.inFlight;
    const finish = () => {
      const windowMs = performance.now() - start;
      const used = process.cpuUsage(cpu);
      resolve({
        type: "loaded",
        latencies: Array.from(latencies.subarray(0, measured).sort()),
        windowMs,
        clientCpuUs: used.user + used.system,
        errors,
        ...(firstError !== undefined ? { firstError } : {}),
      });
    };
    // Per slot: the call in flight (its index into `latencies`) and when it began.
    const calling = new Int32Array(pool.inFlight);
    const began = new Float64Array(pool.inFlight);
    // True while `call` runs: a call that ends inside it (a failed write) must not grow the stack.
    let inCall = false;
    // Each slot: a call, and the next one from the call's end, until the time or count is up.
    const next = (slot: number, now: number): void => {
      if (measured >= maxCalls || now >= end) {
        if (--active === 0) finish();
        return;
      }
      const i = measured++;
      calling[slot] = i;
      began[slot] = now;
      inCall = true;
      call(slot, offset + i * stride, dones[slot]!);
      inCall = false;
    };
    const ended = (slot: number, status: number, error: Error | undefined): void => {
      if (error) {
        errors++;
        firstError ??= error.message;
      } else if (status !== 200) {
        errors++;
        firstError ??= `HTTP ${status}`;
      }
      const now = performance.now();
      latencies[calling[slot]!] = now - began[slot]!;
      if (inCall) queueMicrotask(() => next(slot, performance.now()));
      else next(slot, now);
    };
    const dones: Done[] = Array.from({ length: pool.inFlight }, (_, slot) => (status: number, error?: Error) => ended(slot, status, error));
    if (active === 0) return finish();
    for (let slot = 0; slot < pool.inFlight; slot++) next(slot, performance.now());
  });
}

function main(): void {
  if (!process.send) throw new Error("bench/lean-client.ts must be forked by its driver (it needs an IPC channel)");
  const send = (m: FromClient) => process.send?.(m);
  const pools = new Map<string, Pool>();
  const sets = new Map<string, RawRequest[]>();
  const handle = async (m: ToClient): Promise<FromClient | undefined> => {
    switch (m.type) {
      case "open":
        const h2 = H2_CLIENT === "node" ? openHttp2 : openFrames;
        pools.set(m.pool, await (m.protocol === "h1" ? openHttp1(m.port, m.inFlight) : h2(m.port, m.inFlight, m.sessions ?? 1)));
        return { type: "opened" };
      case "define":
        sets.set(m.set, m.requests);
        return { type: "defined" };
      case "load": {
        const pool = pools.get(m.pool);
        const set = sets.get(m.set);
        if (!pool || !set) throw new Error(`no pool ${m.pool} or request set ${m.set}`);
        return load(pool, pool.prepare(set), m.seconds, m.maxCalls, m.offset ?? 0, m.stride ?? 1);
      }
      case "close":
        for (const pool of pools.values()) pool.close();
        process.disconnect();
        return undefined;
    }
  };
  // One command at a time: the driver waits for each answer.
  process.on("message", (m: ToClient) => {
    handle(m).then(
      (answer) => answer && send(answer),
      (e: unknown) => send({ type: "failed", error: e instanceof Error ? e.message : String(e) }),
    );
  });
  process.on("disconnect", () => {
    for (const pool of pools.values()) pool.close();
  });
}

main();
