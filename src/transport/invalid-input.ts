import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { encodeEnvelope, type UniversalHandler, type UniversalServerResponse } from "@connectrpc/connect/protocol";
import { trailerFlag, trailerParse, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";

/**
 * connect-es reports a request body that is not valid protobuf as INTERNAL
 * (as grpc-go does). For us it is the caller's fault: INVALID_ARGUMENT, so
 * clients do not retry it and operators do not get paged for it. This wraps
 * every handler of the router and rewrites exactly that error, wherever each
 * protocol carries it: the Connect JSON error body, the gRPC trailers, and
 * the gRPC-Web trailer frame at the end of the body.
 */
export function reportParseErrorsAsInvalid(router: ConnectRouter): void {
  const handlers = router.handlers;
  for (let i = 0; i < handlers.length; i++) handlers[i] = wrap(handlers[i]!);
}

const PARSE_ERROR = /^parse binary/;

/** The same rule for an error thrown in process (the fast path, see fast-unary.ts): a parse error becomes INVALID_ARGUMENT. */
export function asInvalidArgument(e: unknown): unknown {
  if (e instanceof ConnectError && e.code === Code.Internal && PARSE_ERROR.test(e.rawMessage)) {
    return new ConnectError(e.rawMessage, Code.InvalidArgument, e.metadata, undefined, e);
  }
  return e;
}
const INTERNAL = "13";
const INVALID_ARGUMENT = "3";

function wrap(handler: UniversalHandler): UniversalHandler {
  const wrapped = async (req: Parameters<UniversalHandler>[0]) => rewrite(await handler(req));
  return Object.assign(wrapped, handler);
}

async function rewrite(res: UniversalServerResponse): Promise<UniversalServerResponse> {
  for (const h of [res.header, res.trailer]) if (h) rewriteGrpcStatus(h);
  const contentType = res.header?.get("content-type") ?? "";
  if (contentType.startsWith("application/grpc-web") && res.body) return { ...res, body: await rewriteGrpcWebBody(res.body) };
  const isConnectError = res.status === 500 && contentType === "application/json";
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

/** gRPC and gRPC-Web status fields: INTERNAL for a parse error becomes INVALID_ARGUMENT. */
function rewriteGrpcStatus(h: Headers): boolean {
  if (h.get("grpc-status") !== INTERNAL || !PARSE_ERROR.test(decodeURIComponent(h.get("grpc-message") ?? ""))) return false;
  h.set("grpc-status", INVALID_ARGUMENT);
  return true;
}

/**
 * A request that does not parse fails before any response message, so its
 * gRPC-Web body starts with the trailer frame: only such a body is read
 * whole (it is a few bytes) and rewritten; any other body streams through
 * untouched.
 */
async function rewriteGrpcWebBody(body: AsyncIterable<Uint8Array>): Promise<AsyncIterable<Uint8Array>> {
  const it = body[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done || first.value[0] !== trailerFlag) return replay(first, it);
  const chunks = [first.value];
  for (let r = await it.next(); !r.done; r = await it.next()) chunks.push(r.value);
  const bytes = Buffer.concat(chunks);
  const length = bytes.readUInt32BE(1);
  if (bytes.length !== 5 + length) return once(bytes);
  const trailer = trailerParse(bytes.subarray(5));
  return once(rewriteGrpcStatus(trailer) ? encodeEnvelope(trailerFlag, trailerSerialize(trailer)) : bytes);
}

/** `it` again, with its first result already taken; return() and throw() still reach it. */
function replay(first: IteratorResult<Uint8Array>, it: AsyncIterator<Uint8Array>): AsyncIterable<Uint8Array> {
  let taken = false;
  const iterator: AsyncIterator<Uint8Array> = {
    next: () => {
      if (taken) return it.next();
      taken = true;
      return Promise.resolve(first);
    },
    return: (value?: unknown) => it.return?.(value) ?? Promise.resolve({ done: true, value: undefined }),
    throw: (e?: unknown) => it.throw?.(e) ?? Promise.reject(e),
  };
  return { [Symbol.asyncIterator]: () => iterator };
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}
