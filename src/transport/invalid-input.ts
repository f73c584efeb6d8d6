import type { ConnectRouter } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerResponse } from "@connectrpc/connect/protocol";

/**
 * connect-es reports a request body that is not valid protobuf as INTERNAL
 * (as grpc-go does). For us it is the caller's fault: INVALID_ARGUMENT, so
 * clients do not retry it and operators do not get paged for it. This wraps
 * every handler of the router and rewrites exactly that error, for the
 * Connect and gRPC protocols. (gRPC-Web carries its status inside the body
 * framing and keeps connect's code.)
 */
export function reportParseErrorsAsInvalid(router: ConnectRouter): void {
  const handlers = router.handlers;
  for (let i = 0; i < handlers.length; i++) handlers[i] = wrap(handlers[i]!);
}

const PARSE_ERROR = /^parse binary/;

function wrap(handler: UniversalHandler): UniversalHandler {
  const wrapped = async (req: Parameters<UniversalHandler>[0]) => rewrite(await handler(req));
  return Object.assign(wrapped, handler);
}

async function rewrite(res: UniversalServerResponse): Promise<UniversalServerResponse> {
  for (const h of [res.header, res.trailer]) {
    if (h?.get("grpc-status") === "13" && PARSE_ERROR.test(decodeURIComponent(h.get("grpc-message") ?? ""))) {
      h.set("grpc-status", "3");
    }
  }
  const isConnectError = res.status === 500 && res.header?.get("content-type") === "application/json";
  if (!isConnectError || !res.body) return res;
  const chunks: Uint8Array[] = [];
  for await (const c of res.body) chunks.push(c);
  const text = Buffer.concat(chunks).toString("utf8");
  const error = JSON.parse(text) as { code?: string; message?: string };
  if (error.code !== "internal" || !PARSE_ERROR.test(error.message ?? "")) return { ...res, body: once(Buffer.from(text)) };
  const body = Buffer.from(JSON.stringify({ ...error, code: "invalid_argument" }));
  res.header?.set("content-length", String(body.length));
  return { ...res, status: 400, body: once(body) };
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}
