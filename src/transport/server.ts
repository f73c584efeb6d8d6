import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import * as tls from "node:tls";
import type { AddressInfo } from "node:net";
import { holdEarlyResponse } from "./early-response.js";
import { serveCompat } from "./compat-request.js";
import { FRAMES_PREFACE } from "./peer-frames.js";

export type NodeHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/**
 * Offered each HTTP/2 stream before node's compatibility objects are made
 * for it: true if it took the stream (and answers it on the stream itself),
 * false to leave it to the `NodeHandler`.
 */
export type H2StreamTaker = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => boolean;

/** Takes the connections that speak peer frames (peer-frame-server.ts), on a cleartext port. */
export interface FramesTaker {
  /** `first`, the connection's first read, starts with the frames preface; the socket is paused. */
  take(socket: net.Socket, first: Buffer): void;
  /** Closing: each connection ends once its calls in flight are answered. */
  drain(): void;
}

/** A certificate (chain) and its private key, PEM: the port serves TLS with them. */
export interface TlsCredentials {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
}

export interface Listener {
  readonly host: string;
  readonly port: number;
  /** "https" when the port serves TLS. */
  readonly scheme: "http" | "https";
  /**
   * Stops accepting connections and closes those open: at once, or after
   * up to `graceMs` for answers still being written to go out.
   */
  close(graceMs?: number): Promise<void>;
}

/** The HTTP/2 connection preface starts with these bytes. */
const H2_PREFACE = Buffer.from("PRI * HTTP/2.0");

/**
 * One port for HTTP/2 (gRPC, Connect) and HTTP/1.1 (Connect, gRPC-Web,
 * curl). With TLS, ALPN says which ("h2" or "http/1.1"). In cleartext,
 * Node's `allowHTTP1` does not work, so we sniff the first bytes of each
 * connection. Either way the socket goes to the matching server.
 * `duplexPaths` are the bidirectional routes (server reflection), which
 * answer each message while the request goes on: no early answer to hold.
 * `frames`, on a cleartext port, takes the connections that start with the
 * peer frames preface (the peer port's).
 */
export async function listen(
  handler: NodeHandler,
  host: string,
  /** A port (0: any free one), or a listening socket handed over by another process (a supervisor's peer port). */
  port: number | net.Server,
  credentials?: TlsCredentials,
  duplexPaths: ReadonlySet<string> = new Set(),
  takeH2Stream?: H2StreamTaker,
  frames?: FramesTaker,
): Promise<Listener> {
  const h2Request = (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
    if (!duplexPaths.has(req.url.split("?", 1)[0]!)) holdEarlyResponse(req, res);
    handler(req, res);
  };
  const h2 = takeH2Stream ? http2.createServer({}) : http2.createServer({}, h2Request);
  if (takeH2Stream) {
    // No 'request' listener, so node makes no compatibility objects: a
    // stream the taker leaves gets them here (see compat-request.ts).
    h2.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => {
      if (!takeH2Stream(stream, headers)) serveCompat(h2, stream, headers, rawHeaders, h2Request);
    });
  }
  const h1 = http.createServer(handler);
  h1.keepAliveTimeout = 60_000;
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  let closing = false;
  // Node's own idle tracking (closeIdleConnections) is off for an http
  // server that never listens itself, as h1 here: so the HTTP/1.1 sockets
  // and which of them are answering a request are tracked here. While
  // closing, a connection closes once its answer is out; an idle one at once.
  const h1Sockets = new Set<net.Socket>();
  const answering = new Set<net.Socket>();
  h1.on("connection", (socket: net.Socket) => {
    h1Sockets.add(socket);
    socket.once("close", () => h1Sockets.delete(socket));
  });
  h1.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket;
    answering.add(socket);
    res.once("close", () => {
      answering.delete(socket);
      if (closing) socket.end();
    });
  });
  const closeIdle = () => {
    for (const socket of h1Sockets) if (!answering.has(socket)) socket.destroy();
  };
  const sockets = new Set<net.Socket>();
  let allClosed: (() => void) | undefined;
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.once("close", () => {
      sockets.delete(socket);
      if (sockets.size === 0) allClosed?.();
    });
  };
  let server: net.Server;
  if (credentials) {
    server = tls.createServer({ ...credentials, ALPNProtocols: ["h2", "http/1.1"], noDelay: true }, (socket) => {
      // A client that offers no ALPN speaks HTTP/1.1.
      (socket.alpnProtocol === "h2" ? h2 : h1).emit("connection", socket);
    });
    server.on("connection", track);
  } else {
    server = net.createServer({ noDelay: true, pauseOnConnect: false }, (socket) => {
      track(socket);
      socket.once("data", (first: Buffer) => {
        socket.pause();
        if (frames && first.length >= FRAMES_PREFACE.length && first.subarray(0, FRAMES_PREFACE.length).equals(FRAMES_PREFACE)) return frames.take(socket, first);
        socket.unshift(first);
        const isH2 = first.subarray(0, H2_PREFACE.length).equals(H2_PREFACE.subarray(0, Math.min(first.length, H2_PREFACE.length)));
        if (isH2) {
          // http2 reads from the handle and drains what we unshifted itself.
          h2.emit("connection", socket);
        } else {
          h1.emit("connection", socket);
          socket.resume();
        }
      });
    });
  }
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    if (typeof port === "number") server.listen(port, host, () => resolve());
    else server.listen(port, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    host,
    port: address.port,
    scheme: credentials ? "https" : "http",
    close: async (graceMs = 0) => {
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      if (graceMs > 0 && sockets.size > 0) {
        // GOAWAY: each session ends once its open streams have.
        for (const session of sessions) session.close();
        closeIdle();
        frames?.drain();
        let timer: NodeJS.Timeout | undefined;
        await new Promise<void>((resolve) => {
          allClosed = resolve;
          timer = setTimeout(resolve, graceMs);
        });
        clearTimeout(timer);
      }
      for (const s of sockets) s.destroy();
      await stopped;
    },
  };
}
