import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import * as tls from "node:tls";
import type { AddressInfo } from "node:net";
import { holdEarlyResponse } from "./early-response.js";
import type { TlsCredentials } from "./tls-credentials.js";

export type NodeHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

export interface Listener {
  readonly host: string;
  readonly port: number;
  /** "https" when the port serves TLS. */
  readonly scheme: "http" | "https";
  close(): Promise<void>;
}

/** The HTTP/2 connection preface starts with these bytes. */
const H2_PREFACE = Buffer.from("PRI * HTTP/2.0");

/**
 * One port for HTTP/2 (gRPC, Connect) and HTTP/1.1 (Connect, gRPC-Web,
 * curl). With TLS, ALPN says which ("h2" or "http/1.1"). In cleartext,
 * Node's `allowHTTP1` does not work, so we sniff the first bytes of each
 * connection. Either way the socket goes to the matching server.
 */
export async function listen(handler: NodeHandler, host: string, port: number, credentials?: TlsCredentials): Promise<Listener> {
  const h2 = http2.createServer({}, (req, res) => {
    holdEarlyResponse(req, res);
    handler(req, res);
  });
  const h1 = http.createServer(handler);
  h1.keepAliveTimeout = 60_000;
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
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
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    host,
    port: address.port,
    scheme: credentials ? "https" : "http",
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        h1.closeAllConnections();
        for (const s of sockets) s.destroy();
      }),
  };
}
