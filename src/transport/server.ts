import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import type { AddressInfo } from "node:net";
import { holdEarlyResponse } from "./early-response.js";

export type NodeHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

export interface Listener {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/** The HTTP/2 connection preface starts with these bytes. */
const H2_PREFACE = Buffer.from("PRI * HTTP/2.0");

/**
 * One cleartext port for HTTP/2 (gRPC, Connect) and HTTP/1.1 (Connect,
 * gRPC-Web, curl). Node's `allowHTTP1` works only with TLS, so we sniff the
 * first bytes of each connection and hand it to the matching server.
 * `duplexPaths` are the bidirectional routes (server reflection), which
 * answer each message while the request goes on: no early answer to hold.
 */
export async function listen(
  handler: NodeHandler,
  host: string,
  port: number,
  duplexPaths: ReadonlySet<string> = new Set(),
): Promise<Listener> {
  const h2 = http2.createServer({}, (req, res) => {
    if (!duplexPaths.has(req.url.split("?", 1)[0]!)) holdEarlyResponse(req, res);
    handler(req, res);
  });
  const h1 = http.createServer(handler);
  h1.keepAliveTimeout = 60_000;
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ noDelay: true, pauseOnConnect: false }, (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.once("data", (first: Buffer) => {
      socket.pause();
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
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    host,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        h1.closeAllConnections();
        for (const s of sockets) s.destroy();
      }),
  };
}
