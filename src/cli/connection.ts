import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { Tasks } from "../../generated/cairn/v1/tasks_pb.js";
import { EXIT } from "./exit.js";

export const DEFAULT_URL = "http://127.0.0.1:9991";

export interface Connection {
  url: string;
  token: string | undefined;
}

/** The global options, falling back to CAIRN_URL and CAIRN_TOKEN. */
export function connectionFrom(values: { url?: string; token?: string }, env = process.env): Connection {
  return { url: values.url ?? env.CAIRN_URL ?? DEFAULT_URL, token: values.token ?? env.CAIRN_TOKEN };
}

/**
 * A client of cairn.v1.Tasks. HTTP/2, because `tasks wait` may wait far
 * longer than an HTTP/1.1 server lets a request live.
 */
export function tasksClient(connection: Connection): Client<typeof Tasks> {
  const bearer: Interceptor = (next) => (req) => {
    if (connection.token) req.header.set("authorization", `Bearer ${connection.token}`);
    return next(req);
  };
  const transport = createConnectTransport({ baseUrl: connection.url, httpVersion: "2", interceptors: [bearer] });
  return createClient(Tasks, transport);
}

/** How a failed call ends the command: the message to print and the exit code. */
export function describeCallError(e: unknown, url: string): { message: string; code: number } {
  const err = ConnectError.from(e);
  if (err.code === Code.Unavailable) {
    return { message: `cannot connect to ${url}: ${err.rawMessage}`, code: EXIT.unreachable };
  }
  const why: Partial<Record<Code, string>> = {
    [Code.NotFound]: "not found",
    [Code.Unauthenticated]: "unauthenticated (pass --token or set CAIRN_TOKEN)",
    [Code.PermissionDenied]: "permission denied",
  };
  return { message: `${why[err.code] ?? Code[err.code]}: ${err.rawMessage}`, code: EXIT.failed };
}
