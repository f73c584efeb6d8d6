import { Code, ConnectError, createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { Actors } from "../../generated/cairn/v1/actors_pb.js";
import { Admin } from "../../generated/cairn/v1/admin_pb.js";
import { Schedules } from "../../generated/cairn/v1/schedules_pb.js";
import { Tasks } from "../../generated/cairn/v1/tasks_pb.js";
import { ServerReflection } from "../../generated/grpc/reflection/v1/reflection_pb.js";
import { EXIT } from "./exit.js";
import { connectTo } from "../client/client-transport.js";
import { pemOf } from "../client/pem.js";

export const DEFAULT_URL = "http://127.0.0.1:9991";

export interface Connection {
  url: string;
  token: string | undefined;
  /** The file of the CA certificate to trust for an https URL. */
  ca?: string | undefined;
}

/** The global options, falling back to CAIRN_URL, CAIRN_TOKEN and CAIRN_CA. */
export function connectionFrom(values: { url?: string; token?: string; ca?: string }, env = process.env): Connection {
  return { url: values.url ?? env.CAIRN_URL ?? DEFAULT_URL, token: values.token ?? env.CAIRN_TOKEN, ca: values.ca ?? env.CAIRN_CA };
}

/**
 * HTTP/2, because `tasks wait` and `tasks watch` may last far longer than
 * an HTTP/1.1 server lets a request live.
 */
function transportFor(connection: Connection): Transport {
  const bearer: Interceptor = (next) => (req) => {
    if (connection.token) req.header.set("authorization", `Bearer ${connection.token}`);
    return next(req);
  };
  const ca = connection.ca ? pemOf(connection.ca, "CA") : undefined;
  return createConnectTransport({
    baseUrl: connection.url,
    httpVersion: "2",
    interceptors: [bearer],
    nodeOptions: { createConnection: (authority: URL) => connectTo(authority, ca, ["h2"]) },
  });
}

/** A client of cairn.v1.Tasks. */
export function tasksClient(connection: Connection): Client<typeof Tasks> {
  return createClient(Tasks, transportFor(connection));
}

/** A client of cairn.v1.Actors (operators). */
export function actorsClient(connection: Connection): Client<typeof Actors> {
  return createClient(Actors, transportFor(connection));
}

/** A client of cairn.v1.Admin (operators: backups and exports). */
export function adminClient(connection: Connection): Client<typeof Admin> {
  return createClient(Admin, transportFor(connection));
}

/** A client of cairn.v1.Schedules (operators). */
export function schedulesClient(connection: Connection): Client<typeof Schedules> {
  return createClient(Schedules, transportFor(connection));
}

/** A client of grpc.reflection.v1.ServerReflection: the application's schema. */
export function reflectionClient(connection: Connection): Client<typeof ServerReflection> {
  return createClient(ServerReflection, transportFor(connection));
}

/** How a failed call ends the command: the message to print and the exit code. */
export function describeCallError(e: unknown, url: string): { message: string; code: number } {
  const err = ConnectError.from(e);
  if (err.code === Code.Unavailable) {
    return { message: `cannot connect to ${url}: ${err.rawMessage}`, code: EXIT.unreachable };
  }
  if (isCertificateError(err.cause)) {
    return { message: `cannot connect to ${url}: ${err.rawMessage} (pass --ca FILE or set CAIRN_CA to trust its CA)`, code: EXIT.unreachable };
  }
  const why: Partial<Record<Code, string>> = {
    [Code.NotFound]: "not found",
    [Code.Unauthenticated]: "unauthenticated (pass --token or set CAIRN_TOKEN)",
    [Code.PermissionDenied]: "permission denied",
  };
  return { message: `${why[err.code] ?? Code[err.code]}: ${err.rawMessage}`, code: EXIT.failed };
}

/** Node's TLS verification failures (UNABLE_TO_VERIFY_LEAF_SIGNATURE, DEPTH_ZERO_SELF_SIGNED_CERT, …). */
function isCertificateError(cause: unknown): boolean {
  const code = (cause as { code?: unknown } | undefined)?.code;
  return typeof code === "string" && /CERT|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(code);
}
