import * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeFrame, frameCode, FrameReader, FRAMES_PREFACE, HELLO_ID } from "./peer-frames.js";
import { NoFrames, PeerChannels } from "./peer-channels.js";
import { PeerFrameServer } from "./peer-frame-server.js";
import { listen, type Listener } from "./server.js";
import { PeerConnections } from "./peer-connections.js";
import { PeerSender } from "./peer-sender.js";
import { PeerSessions } from "./peer-sessions.js";

const SECRET = "cluster-secret";
const MAX_BYTES = 4096;

describe("FrameReader", () => {
  it("reads frames however the bytes are split, several to a read or one over many", () => {
    const frames = [encodeFrame(1, 2, Buffer.from("hello")), encodeFrame(7, 200, new Uint8Array()), encodeFrame(0xffff_fff0, 404, Buffer.alloc(300, 5))];
    const all = Buffer.concat(frames);
    for (const step of [1, 3, 10, 11, 299, all.length]) {
      const heard: Array<[number, number, string]> = [];
      const reader = new FrameReader(1024, (id, code, payload) => heard.push([id, code, payload.toString("hex")]));
      for (let at = 0; at < all.length; at += step) reader.push(all.subarray(at, at + step));
      expect(heard).toEqual([
        [1, 2, Buffer.from("hello").toString("hex")],
        [7, 200, ""],
        [0xffff_fff0, 404, Buffer.alloc(300, 5).toString("hex")],
      ]);
    }
  });

  it("refuses a frame longer than allowed from its head alone, before its bytes arrive", () => {
    const reader = new FrameReader(100, () => expect.unreachable());
    expect(() => reader.push(encodeFrame(1, 1, Buffer.alloc(101)).subarray(0, 10))).toThrow(/101 bytes is over the 100/);
  });
});

/** A raw connection to `port`: what it is sent back, and whether it closed. */
async function raw(port: number): Promise<{ socket: net.Socket; frames: Array<[number, number, string]>; closed: Promise<void> }> {
  const socket = net.connect({ host: "127.0.0.1", port });
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  const frames: Array<[number, number, string]> = [];
  const reader = new FrameReader(1 << 20, (id, code, payload) => frames.push([id, code, payload.toString()]));
  socket.on("data", (chunk: Buffer) => reader.push(chunk));
  socket.on("error", () => {});
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  return { socket, frames, closed };
}

// A real peer port (server.ts `listen` with the frame server) on loopback; the answerer echoes the op and body after a delay the body names.
describe("framed peer channel", () => {
  let listener: Listener;
  let plain: Listener;
  let url = "";
  const cancelled: string[] = [];
  let httpRequests = 0;
  const channels = new PeerChannels(SECRET);

  beforeAll(async () => {
    const frames = new PeerFrameServer(SECRET, () => ({
      maxBytes: MAX_BYTES,
      answer: async (op, body, signal) => {
        const text = Buffer.from(body).toString();
        signal.addEventListener("abort", () => cancelled.push(text));
        const delay = Number(/wait (\d+)/.exec(text)?.[1] ?? 0);
        if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
        if (text === "fail") return { status: 400, json: true, body: Buffer.from('{"code":"invalid_argument"}') };
        return { status: 200, json: false, body: Buffer.from(`${op}:${text}`) };
      },
    }));
    const http = (_req: unknown, res: { writeHead(s: number): void; end(body: string): void }) => {
      httpRequests++;
      res.writeHead(200);
      res.end("over http");
    };
    listener = await listen(http, "127.0.0.1", 0, undefined, new Set(), undefined, frames);
    plain = await listen(http, "127.0.0.1", 0);
    url = `http://127.0.0.1:${listener.port}`;
  });

  afterAll(async () => {
    channels.close();
    await listener.close();
    await plain.close();
  });

  const call = (body: string, signal?: AbortSignal, to = url, ch = channels) => {
    const sent = ch.call(to, frameCode("txn-finish")!, Buffer.from(body), signal);
    if (!sent) throw new Error("not sent");
    return sent.then((a) => `${a.status} ${a.body.toString()}`);
  };

  it("multiplexes many calls on one connection, each answer to its own call whatever the order", async () => {
    const bodies = Array.from({ length: 200 }, (_, i) => `call ${i} wait ${(i * 7) % 13}`);
    const answers = await Promise.all(bodies.map((b) => call(b)));
    expect(answers).toEqual(bodies.map((b) => `200 txn-finish:${b}`));
    expect(await call("fail")).toBe('400 {"code":"invalid_argument"}');
    // The plain HTTP/1.1 side of the port still answers.
    const before = httpRequests;
    await fetch(`${url}/x`);
    expect(httpRequests).toBe(before + 1);
  });

  it("an aborted call rejects with its reason at once, and the peer hears it gave up", async () => {
    const stop = new AbortController();
    const pending = call("slow wait 5000", stop.signal);
    await call("warm"); // the slow call is at the peer by now
    stop.abort(new Error("deadline"));
    await expect(pending).rejects.toThrow("deadline");
    await expect.poll(() => cancelled).toContain("slow wait 5000");
  });

  it("a connection that dies fails its calls in flight; the next call opens another", async () => {
    const pending = call("dies wait 5000");
    await call("warm");
    // The peer goes away: every connection of the port closes at once (as in a crash).
    const stopped = listener.close();
    await expect(pending).rejects.toThrow();
    await expect(pending).rejects.not.toBeInstanceOf(NoFrames);
    await stopped;
    const frames = new PeerFrameServer(SECRET, () => ({ maxBytes: MAX_BYTES, answer: async (op, body) => ({ status: 200, json: false, body: Buffer.from(`${op}:${Buffer.from(body).toString()}`) }) }));
    listener = await listen(() => {}, "127.0.0.1", listener.port, undefined, new Set(), undefined, frames);
    expect(await call("again")).toBe("200 txn-finish:again");
  });

  it("a node that does not speak frames: the call is not sent (NoFrames), and frames are not tried again for a while", async () => {
    const to = `http://127.0.0.1:${plain.port}`;
    const before = httpRequests;
    await expect(call("hi", undefined, to)).rejects.toBeInstanceOf(NoFrames);
    expect(channels.call(to, frameCode("txn-finish")!, Buffer.from("hi"), undefined)).toBeUndefined();
    // It heard one bad request (the preface), no call.
    expect(httpRequests).toBe(before);
  });

  it("the sender sends a node without frames its transaction calls over HTTP/1.1, and a framed node over frames", async () => {
    const sessions = new PeerSessions();
    const connections = new PeerConnections();
    const own = new PeerChannels(SECRET);
    const to = [`http://127.0.0.1:${plain.port}`, url];
    const sender = new PeerSender({ index: 9, peerUrls: to, secret: SECRET, nodeOfPartition: () => 0 }, sessions, connections, own);
    try {
      const before = httpRequests;
      const read = async (status: number, body: Buffer) => `${status} ${body.toString()}`;
      expect(await sender.exchange(0, "txn-finish", Buffer.from("a"), undefined, read)).toBe("200 over http");
      expect(httpRequests).toBe(before + 1);
      expect(await sender.exchange(1, "txn-finish", Buffer.from("b"), undefined, read)).toBe("200 txn-finish:b");
      expect(httpRequests).toBe(before + 1);
    } finally {
      own.close();
      connections.close();
      sessions.close();
    }
  });

  it("a wrong secret is refused at the hello: no call is read, the connection closes", async () => {
    const wrong = new PeerChannels("not-the-secret");
    try {
      await expect(call("hi", undefined, url, wrong)).rejects.toBeInstanceOf(NoFrames);
    } finally {
      wrong.close();
    }
    const c = await raw(listener.port);
    c.socket.write(Buffer.concat([FRAMES_PREFACE, encodeFrame(HELLO_ID, 0, Buffer.from("nope")), encodeFrame(1, frameCode("txn-run")!, Buffer.from("x"))]));
    await c.closed;
    expect(c.frames).toEqual([[HELLO_ID, 403, ""]]);
  });

  it("closes a connection on a frame before the hello, an oversize frame, or a reused id, answering nothing", async () => {
    const hello = encodeFrame(HELLO_ID, 0, Buffer.from(SECRET));
    const cases = [
      Buffer.concat([FRAMES_PREFACE, encodeFrame(1, 1, Buffer.from("x"))]),
      Buffer.concat([FRAMES_PREFACE, hello, encodeFrame(1, 1, Buffer.alloc(MAX_BYTES + 1)).subarray(0, 20)]),
      Buffer.concat([FRAMES_PREFACE, hello, encodeFrame(5, 2, Buffer.from("a wait 200")), encodeFrame(5, 2, Buffer.from("b"))]),
    ];
    for (const bytes of cases) {
      const c = await raw(listener.port);
      c.socket.write(bytes);
      await c.closed;
      expect(c.frames.filter(([id]) => id !== HELLO_ID)).toEqual([]);
    }
  });

  it("answers an unknown op NOT_FOUND and keeps the connection", async () => {
    const c = await raw(listener.port);
    c.socket.write(Buffer.concat([FRAMES_PREFACE, encodeFrame(HELLO_ID, 0, Buffer.from(SECRET)), encodeFrame(3, 999, Buffer.from("x")), encodeFrame(4, frameCode("txn-run")!, Buffer.from("y"))]));
    await expect.poll(() => c.frames.length).toBe(3);
    expect(c.frames[0]).toEqual([HELLO_ID, 200, ""]);
    expect(c.frames.find(([id]) => id === 3)?.[1]).toBe(404);
    expect(c.frames.find(([id]) => id === 4)).toEqual([4, 200, "txn-run:y"]);
    c.socket.destroy();
  });
});
