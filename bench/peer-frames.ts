/**
 * `npx tsx bench/peer-frames.ts`: one peer exchange (a ~200-byte call and
 * a ~200-byte answer) between two processes on loopback, by (a) today's
 * transaction path, a pooled keep-alive HTTP/1.1 connection
 * (peer-connections.ts) to node's HTTP server (server.ts `listen`, the
 * peer port's), and (b) the framed channel (peer-frames.ts): one socket,
 * calls multiplexed by id, writes coalesced per event turn. One JSON line
 * per path and concurrency, with both sides' CPU per exchange.
 *
 * Env: BENCH_CALLS (20000 per scenario), BENCH_CONCURRENCY ("1,64").
 */
import { fork, type ChildProcess } from "node:child_process";
import * as net from "node:net";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { listen } from "../src/transport/server.js";
import { readRequestBody } from "../src/transport/request-body.js";
import { PeerConnections } from "../src/transport/peer-connections.js";
import { encodeFrame, FrameReader, FRAMES_PREFACE, FrameWriter, HELLO_ID } from "../src/transport/peer-frames.js";
import { emit, log, runBench } from "./output.js";

const CALLS = Number(process.env.BENCH_CALLS ?? 20_000);
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? "1,64").split(",").map(Number);
/** No scenario runs longer. */
const MAX_MS = 20_000;
const CALL = Buffer.alloc(200, 7);
const ANSWER = Buffer.alloc(200, 9);
const SECRET = "bench-secret";

type ToChild = { type: "cpu" };
type FromChild = { type: "ready"; h1Port: number; framesPort: number } | { type: "cpu"; us: number };

const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/** The answering process: both servers, answering each call in a later microtask (as a route's promise does). */
async function serve(): Promise<void> {
  const h1 = await listen(
    (req, res) => {
      const length = req.headers["content-length"];
      void readRequestBody(req, 1 << 20, typeof length === "string" ? length : null).then(() => {
        res.writeHead(200, { "content-type": "application/proto" });
        res.end(ANSWER);
      });
    },
    "127.0.0.1",
    0,
  );
  const frames = net.createServer({ noDelay: true }, (socket) => {
    const writer = new FrameWriter((b) => socket.write(b));
    let preface = false;
    const reader = new FrameReader(1 << 20, (id, _code, _payload) => {
      if (id === HELLO_ID) return writer.send(encodeFrame(HELLO_ID, 200, new Uint8Array()));
      void Promise.resolve().then(() => writer.send(encodeFrame(id, 200, ANSWER)));
    });
    socket.on("data", (chunk: Buffer) => {
      if (!preface) {
        preface = true;
        chunk = chunk.subarray(FRAMES_PREFACE.length);
      }
      reader.push(chunk);
    });
    socket.on("error", () => socket.destroy());
  });
  await new Promise<void>((resolve) => frames.listen(0, "127.0.0.1", resolve));
  process.on("message", (m: ToChild) => {
    if (m.type === "cpu") process.send!({ type: "cpu", us: cpuUs() } satisfies FromChild);
  });
  process.send!({ type: "ready", h1Port: h1.port, framesPort: (frames.address() as net.AddressInfo).port } satisfies FromChild);
}

function childCpu(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    const on = (m: FromChild) => {
      if (m.type !== "cpu") return;
      child.off("message", on);
      resolve(m.us);
    };
    child.on("message", on);
    child.send({ type: "cpu" } satisfies ToChild);
  });
}

type Exchange = () => Promise<void>;

function h1Exchange(port: number): { call: Exchange; close(): void } {
  const pool = new PeerConnections();
  const url = `http://127.0.0.1:${port}`;
  const head = `POST /_cairn/peer/call/txn-finish HTTP/1.1\r\nhost: cairn-peer\r\ncontent-type: application/proto\r\ncontent-length: ${CALL.length}\r\nx-cairn-peer: ${SECRET}\r\n\r\n`;
  const call = () =>
    new Promise<void>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const sent = pool.exchange(url, head, CALL, {
        head: (status, _h, whole) => {
          if (status !== 200) reject(new Error(`status ${status}`));
          else if (whole) resolve();
        },
        data: (c) => chunks.push(c),
        end: () => resolve(),
        failed: (e) => reject(e),
      });
      if (!sent) reject(new Error("pool full"));
    });
  return { call, close: () => pool.close() };
}

async function framesExchange(port: number): Promise<{ call: Exchange; close(): void }> {
  const socket = net.connect({ host: "127.0.0.1", port, noDelay: true });
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  const waiting = new Map<number, () => void>();
  let hello: (() => void) | undefined;
  const reader = new FrameReader(1 << 20, (id) => {
    if (id === HELLO_ID) return hello?.();
    const w = waiting.get(id);
    waiting.delete(id);
    w?.();
  });
  socket.on("data", (c: Buffer) => reader.push(c));
  const writer = new FrameWriter((b) => socket.write(b));
  socket.write(FRAMES_PREFACE);
  await new Promise<void>((resolve) => {
    hello = resolve;
    writer.send(encodeFrame(HELLO_ID, 0, Buffer.from(SECRET)));
  });
  let next = 1;
  const call = () =>
    new Promise<void>((resolve) => {
      const id = next++;
      waiting.set(id, resolve);
      writer.send(encodeFrame(id, 3, CALL));
    });
  return { call, close: () => socket.destroy() };
}

async function drive(call: Exchange, calls: number, concurrency: number): Promise<{ done: number; ms: number }> {
  const start = performance.now();
  let done = 0;
  let started = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started < calls && performance.now() - start < MAX_MS) {
        started++;
        await call();
        done++;
      }
    }),
  );
  return { done, ms: performance.now() - start };
}

async function main(): Promise<void> {
  const child = fork(fileURLToPath(import.meta.url), ["serve"], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  try {
    const ready = await new Promise<Extract<FromChild, { type: "ready" }>>((resolve, reject) => {
      child.once("message", (m: FromChild) => (m.type === "ready" ? resolve(m) : reject(new Error("unexpected"))));
      child.once("exit", (code) => reject(new Error(`server exited ${code}`)));
    });
    for (const path of ["h1", "frames"] as const) {
      const peer = path === "h1" ? h1Exchange(ready.h1Port) : await framesExchange(ready.framesPort);
      for (const concurrency of CONCURRENCY) {
        await drive(peer.call, Math.min(2_000, CALLS), concurrency); // warm-up
        const serverBefore = await childCpu(child);
        const clientBefore = cpuUs();
        const { done, ms } = await drive(peer.call, CALLS, concurrency);
        const clientUs = cpuUs() - clientBefore;
        const serverUs = (await childCpu(child)) - serverBefore;
        emit({
          scenario: `peer-exchange-${path}`,
          concurrency,
          exchanges: done,
          perSecond: Math.round((done / ms) * 1000),
          callerCpuUsPerExchange: +(clientUs / done).toFixed(1),
          answererCpuUsPerExchange: +(serverUs / done).toFixed(1),
          totalCpuUsPerExchange: +((clientUs + serverUs) / done).toFixed(1),
          load1: +loadavg()[0]!.toFixed(2),
        });
      }
      peer.close();
    }
  } finally {
    child.kill();
  }
  log("done");
}

if (process.argv[2] === "serve") void serve();
else runBench(main);
