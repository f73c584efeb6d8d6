import * as http from "node:http";
import * as net from "node:net";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PeerConnections, type AnswerSink } from "./peer-connections.js";

/** What a sink heard: the answer's status, headers and body, or the failure. */
interface Heard {
  status: number;
  headers: http.OutgoingHttpHeaders;
  body: string;
  whole: boolean;
}

function exchange(pool: PeerConnections, url: string, path: string, body = ""): Promise<Heard> {
  return new Promise((resolve, reject) => {
    const heard: Heard = { status: 0, headers: {}, body: "", whole: false };
    const sink: AnswerSink = {
      head: (status, headers, whole) => {
        Object.assign(heard, { status, headers });
        if (whole === undefined) return;
        heard.body = whole.toString();
        heard.whole = true;
        resolve(heard);
      },
      data: (chunk) => void (heard.body += chunk.toString()),
      end: () => resolve(heard),
      failed: (e, answered) => reject(Object.assign(e, { answered })),
    };
    const head = `POST ${path} HTTP/1.1\r\nhost: peer\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-test: yes\r\n\r\n`;
    if (!pool.exchange(url, head, Buffer.from(body), sink)) reject(new Error("no connection"));
  });
}

// A real HTTP/1.1 server on loopback answers each way a peer may answer.
describe("PeerConnections", () => {
  const pool = new PeerConnections();
  const sockets = new Set<net.Socket>();
  let server: http.Server;
  let url = "";

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString();
        const port = String(req.socket.remotePort);
        switch (req.url) {
          case "/fixed": {
            const answer = `{"echo":${JSON.stringify(body)}}`;
            const headers = { "content-type": "application/json", "content-length": Buffer.byteLength(answer), "x-port": port, "x-seen": String(req.headers["x-test"]) };
            return res.writeHead(200, headers).end(answer);
          }
          case "/chunked":
            res.writeHead(503, { "content-type": "application/json", "x-port": port });
            res.write('{"code":');
            return setImmediate(() => res.end('"unavailable"}'));
          case "/large":
            return res.writeHead(200, { "content-length": 100_000 }).end(Buffer.alloc(100_000, 97));
          case "/close":
            return res.writeHead(200, { connection: "close", "content-length": 2, "x-port": port }).end("ok");
          case "/die":
          case "/die-large":
            res.writeHead(200, { "content-length": req.url === "/die" ? 10 : 100_000 });
            res.write("abc");
            return setImmediate(() => req.socket.destroy());
          default:
            return res.writeHead(404, { "content-length": 0 }).end();
        }
      });
    });
    server.on("connection", (s: net.Socket) => {
      sockets.add(s);
      s.once("close", () => sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    pool.close();
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it("sends the request as written and hands over a fixed-length answer whole, on one kept-alive connection", async () => {
    const first = await exchange(pool, url, "/fixed", "hello");
    expect(first).toMatchObject({ status: 200, whole: true, body: '{"echo":"hello"}' });
    expect(first.headers).toMatchObject({ "content-type": "application/json", "x-seen": "yes", "content-length": "16" });
    const second = await exchange(pool, url, "/fixed");
    expect(second.body).toBe('{"echo":""}');
    expect(second.headers["x-port"]).toBe(first.headers["x-port"]);
  });

  it("streams a chunked answer without its hop-by-hop headers, and a large one as it comes", async () => {
    const chunked = await exchange(pool, url, "/chunked");
    expect(chunked).toMatchObject({ status: 503, whole: false, body: '{"code":"unavailable"}' });
    expect(chunked.headers["transfer-encoding"]).toBeUndefined();
    expect(chunked.headers["content-length"]).toBeUndefined();
    const large = await exchange(pool, url, "/large");
    expect(large.whole).toBe(false);
    expect(large.body).toBe("a".repeat(100_000));
  });

  it("does not reuse a connection the peer closes, and fails an answer cut off", async () => {
    const closed = await exchange(pool, url, "/close");
    expect(closed.body).toBe("ok");
    const next = await exchange(pool, url, "/fixed");
    expect(next.headers["x-port"]).not.toBe(closed.headers["x-port"]);
    // A small answer is held until whole, so nothing of it was passed on; a large one was.
    await expect(exchange(pool, url, "/die")).rejects.toMatchObject({ answered: false });
    await expect(exchange(pool, url, "/die-large")).rejects.toMatchObject({ answered: true });
    expect((await exchange(pool, url, "/fixed")).status).toBe(200);
  });

  it("fails an exchange with a peer that is not there before any answer", async () => {
    const down = await new Promise<string>((resolve) => {
      const s = net.createServer().listen(0, "127.0.0.1", () => {
        const port = (s.address() as AddressInfo).port;
        s.close(() => resolve(`http://127.0.0.1:${port}`));
      });
    });
    await expect(exchange(pool, down, "/fixed")).rejects.toMatchObject({ answered: false });
  });
});
