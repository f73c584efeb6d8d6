import * as net from "node:net";
import type { Transport } from "@connectrpc/connect";
import {
  Http2SessionManager,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";

export type TransportKind = "connect" | "grpc" | "grpc-web";

export interface ClientTransport {
  readonly transport: Transport;
  close(): void;
}

/**
 * A Node client transport over HTTP/2 with TCP no-delay (Nagle costs 4x on
 * loopback). The session manager is ours so `close()` can end the session.
 */
export function createClientTransport(
  baseUrl: string,
  kind: TransportKind,
  options: { readMaxBytes?: number; writeMaxBytes?: number } = {},
): ClientTransport {
  const nodeOptions = {
    createConnection: (authority: URL) =>
      net.connect({ host: authority.hostname, port: Number(authority.port), noDelay: true }),
  };
  const sessionManager = new Http2SessionManager(baseUrl, { idleConnectionTimeoutMs: 15_000 }, nodeOptions);
  const common = { baseUrl, httpVersion: "2" as const, sessionManager, ...options };
  const transport =
    kind === "grpc"
      ? createGrpcTransport(common)
      : kind === "grpc-web"
        ? createGrpcWebTransport(common)
        : createConnectTransport(common);
  return { transport, close: () => sessionManager.abort() };
}
