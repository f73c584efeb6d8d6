import type * as http from "node:http";
import type { Readable } from "node:stream";
import { toJsonString, type JsonReadOptions, type JsonWriteOptions, type Message } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { compressionNegotiate, createMethodSerializationLookup, encodeEnvelope, getJsonOptions, validateReadWriteMaxBytes } from "@connectrpc/connect/protocol";
import { codeToHttpStatus, errorToJsonBytes, parseTimeout as parseConnectTimeout } from "@connectrpc/connect/protocol-connect";
import { parseTimeout as parseGrpcTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";
import type { Runtime } from "../runtime/runtime.js";
import type { MethodSpec, StateSpec } from "../api/spec.js";
import { toWireError } from "../api/wire-error.js";
import { TASK_ID_HEADER } from "../api/headers.js";
import { runActorCall, Spawned, type ActorCallAnswer } from "./actor-call.js";
import { nodeRequestHeaders } from "./request-headers.js";
import { readRequestBody, unaryEnvelope } from "./request-body.js";
import { asInvalidArgument } from "./invalid-input.js";
import { withJsonReader } from "./json-request-reader.js";
import type { Drain } from "./drain.js";
import type { H2StreamTaker, NodeHandler } from "./server.js";
import { responseWire, streamWire, type AnswerWire } from "./answer-wire.js";

/**
 * Unary calls to actor methods over Connect (binary and JSON, HTTP/1.1 and
 * HTTP/2) and gRPC (HTTP/2), served straight on node's request and
 * response instead of through connect's handler.
 *
 * Why: a durable writer spent most of its server CPU in connect's
 * per-request machinery (a linked AbortController and deadline per call,
 * Headers objects, async-iterable bodies, interceptor chains), not in
 * the runtime. Here a call is one Map lookup, one body read, connect's
 * own parser and serializer for the method, and one write.
 *
 * The answers are connect's, byte for byte where it matters: the same
 * parse errors (INVALID_ARGUMENT, as invalid-input.ts makes them),
 * size limits, compression negotiation (gzip, br), timeout headers,
 * error bodies and gRPC trailers, the same shared `runActorCall`, the
 * same drain. Everything else (GET, gRPC-Web, gRPC over HTTP/1.1, other
 * content types, other routes) goes to `fallback` unchanged.
 */
export function withFastUnary(runtime: Runtime, options: FastUnaryOptions, fallback: NodeHandler, drain: Drain): NodeHandler {
  return new FastUnary(runtime, options, drain).handler(fallback);
}

/** The fast path's routes, served on node's request and response, or (HTTP/2) on a stream taken whole. */
export class FastUnary {
  readonly #routes = new Map<string, Route>();
  readonly #served: Served;

  constructor(runtime: Runtime, options: FastUnaryOptions, drain: Drain) {
    const limits = validateReadWriteMaxBytes(options.readMaxBytes, undefined, undefined);
    for (const spec of runtime.specs) {
      for (const method of Object.values(spec.methods)) {
        const serialization = createMethodSerializationLookup(method.desc, undefined, options.jsonOptions, limits);
        const parseJson = withJsonReader(method.desc.input, serialization.getI(false).parse, limits.readMaxBytes, getJsonOptions(options.jsonOptions));
        this.#routes.set(`/${spec.service.typeName}/${method.desc.name}`, { spec, method, serialization, parseJson });
      }
    }
    this.#served = { runtime, drain, limits, jsonOptions: options.jsonOptions, jsonWrite: jsonWriteOptions(options.jsonOptions) };
  }

  /** Serves what it can on node's request and response; the rest goes to `fallback`. */
  handler(fallback: NodeHandler): NodeHandler {
    const routes = this.#routes;
    const served = this.#served;
    return (req, res) => {
      const route = req.method === "POST" ? routes.get(req.url ?? "") : undefined;
      const protocol = route && protocolOf(req.headers["content-type"], req.httpVersionMajor === 2);
      if (protocol === undefined) return fallback(req, res);
      serve(served, route!, protocol, req.headers, req, responseWire, res).catch(() => res.destroy());
    };
  }

  /**
   * Takes an HTTP/2 stream it serves, before node makes its compatibility
   * objects (a Readable request and a response per call, which cost more
   * server CPU than the rest of the wire work). Decided from the headers
   * alone, before the body is touched: a stream it leaves is untouched.
   */
  readonly takeH2Stream: H2StreamTaker = (stream, headers) => {
    // An expectation (100-continue) is the compatibility layer's to answer.
    if (headers[":method"] !== "POST" || headers.expect !== undefined) return false;
    const route = this.#routes.get(headers[":path"] ?? "");
    const protocol = route && protocolOf(headers["content-type"], true);
    if (protocol === undefined) return false;
    // As the compatibility layer does: a reset stream's error is not the server's.
    stream.on("error", ignore);
    serve(this.#served, route!, protocol, headers, stream, streamWire, stream).catch(() => stream.destroy());
    return true;
  };
}

const ignore = (): void => {};

export interface FastUnaryOptions {
  readonly readMaxBytes: number;
  readonly jsonOptions: Partial<JsonReadOptions & JsonWriteOptions>;
}

type Serialization = ReturnType<typeof createMethodSerializationLookup>;

interface Route {
  readonly spec: StateSpec;
  readonly method: MethodSpec;
  readonly serialization: Serialization;
  /** connect's JSON parse, through a reader made for the input type first (json-request-reader.ts). */
  readonly parseJson: (bytes: Uint8Array) => Message;
}

interface Served {
  readonly runtime: Runtime;
  readonly drain: Drain;
  readonly limits: ReturnType<typeof validateReadWriteMaxBytes>;
  readonly jsonOptions: FastUnaryOptions["jsonOptions"];
  /** connect's JSON options for a response; undefined when they write as protobuf-es's defaults. */
  readonly jsonWrite: ReturnType<typeof getJsonOptions> | undefined;
}

const enum Protocol {
  ConnectProto,
  ConnectJson,
  Grpc,
}

/** The content types connect serves that this path serves too (others, rarer spellings included, fall back). */
function protocolOf(contentType: string | undefined, h2: boolean): Protocol | undefined {
  switch (contentType) {
    case "application/proto":
      return Protocol.ConnectProto;
    case "application/json":
    case "application/json; charset=utf-8":
    case "application/json;charset=utf-8":
      return Protocol.ConnectJson;
    case "application/grpc":
    case "application/grpc+proto":
      // gRPC needs HTTP/2 trailers; connect's handler deals with anything else.
      return h2 ? Protocol.Grpc : undefined;
    default:
      return undefined;
  }
}

/** connect-node's defaults, so negotiation answers as connect's handler would. */
const ACCEPT_COMPRESSION = [compressionGzip, compressionBrotli];
const MAX_TIMEOUT_MS = Number.MAX_SAFE_INTEGER;

async function serve<T>(
  served: Served,
  route: Route,
  protocol: Protocol,
  headers: http.IncomingHttpHeaders,
  req: Readable,
  wire: AnswerWire<T>,
  res: T,
): Promise<void> {
  const h = nodeRequestHeaders(headers);
  const grpc = protocol === Protocol.Grpc;
  const binary = protocol !== Protocol.ConnectJson;
  const compression = grpc
    ? compressionNegotiate(ACCEPT_COMPRESSION, h.get("grpc-encoding"), h.get("grpc-accept-encoding"), "Grpc-Accept-Encoding")
    : compressionNegotiate(ACCEPT_COMPRESSION, h.get("content-encoding"), h.get("accept-encoding"), "Accept-Encoding");
  const timeout = grpc ? parseGrpcTimeout(h.get("grpc-timeout"), MAX_TIMEOUT_MS) : parseConnectTimeout(h.get("connect-timeout-ms"), MAX_TIMEOUT_MS);
  const { readMaxBytes, compressMinBytes } = served.limits;
  let taskId: string | undefined;
  let body: Uint8Array | string | undefined;
  let error: ConnectError | undefined;
  const waiter = route.method.kind === "workflow" ? waiterSignal(wire, res, timeout.timeoutMs) : undefined;
  try {
    if (compression.error) throw compression.error;
    if (timeout.error) throw timeout.error;
    const raw = await readRequestBody(req, readMaxBytes, grpc ? null : h.get("content-length"), grpc);
    let bytes = grpc ? await unaryEnvelope(raw, compression.request, readMaxBytes) : raw;
    if (!grpc && compression.request) bytes = await compression.request.decompress(bytes, readMaxBytes);
    const input = parse(route, binary, bytes);
    // The drain's count, inline (`Drain.unary` would cost a closure and a promise per call).
    served.drain.enter();
    let answer: ActorCallAnswer;
    try {
      answer = await runActorCall(served.runtime, route.spec, route.method, input, h, waiter?.signal);
    } finally {
      served.drain.leave();
    }
    let response = answer as Message;
    if (answer instanceof Spawned) ({ response, taskId } = answer);
    body = binary ? route.serialization.getO(true).serialize(response) : jsonText(route.method.desc.output, response, served);
  } catch (e) {
    error = toWireError(e, route.method);
  } finally {
    waiter?.done();
  }
  if (wire.gone(res)) return;
  // gRPC is binary: its body is bytes.
  if (grpc) return answerGrpc(wire, res, taskId, body as Uint8Array | undefined, error, compression.response, compressMinBytes);
  return answerConnect(wire, res, binary, taskId, body, error, compression.response, compressMinBytes, served.jsonOptions);
}

type Compression = NonNullable<ReturnType<typeof compressionNegotiate>["response"]>;

/** Sends a Connect answer; a promise only when it compresses (the common answer goes out without one). */
function answerConnect<T>(
  wire: AnswerWire<T>,
  res: T,
  binary: boolean,
  taskId: string | undefined,
  body: Uint8Array | string | undefined,
  error: ConnectError | undefined,
  compression: Compression | null,
  compressMinBytes: number,
  jsonOptions: FastUnaryOptions["jsonOptions"],
): Promise<void> | undefined {
  const headers: http.OutgoingHttpHeaders = { "content-type": binary ? "application/proto" : "application/json" };
  let status = 200;
  if (error || !body) {
    error ??= new ConnectError("internal error", Code.Internal);
    status = codeToHttpStatus(error.code);
    headers["content-type"] = "application/json";
    error.metadata.forEach((value, key) => void (headers[key] = value));
    body = errorToJsonBytes(error, jsonOptions);
  } else if (taskId !== undefined) {
    headers[TASK_ID_HEADER] = taskId;
  }
  const length = typeof body === "string" ? Buffer.byteLength(body) : body.byteLength;
  if (compression && length >= compressMinBytes) {
    headers["content-encoding"] = compression.name;
    return compression.compress(typeof body === "string" ? Buffer.from(body) : body).then((compressed) => {
      if (!wire.gone(res)) wire.whole(res, status, headers, compressed, compressed.byteLength);
    });
  }
  wire.whole(res, status, headers, body, length);
  return undefined;
}

/** The options that change how JSON is written (the rest only change reading). */
const JSON_WRITE_OPTIONS = ["alwaysEmitImplicit", "enumAsInteger", "useProtoFieldName", "registry", "prettySpaces"] as const;

/** connect's options for writing, or undefined if none differs from the default (protobuf-es then merges nothing per call). */
function jsonWriteOptions(options: FastUnaryOptions["jsonOptions"]): ReturnType<typeof getJsonOptions> | undefined {
  const o = getJsonOptions(options);
  return JSON_WRITE_OPTIONS.some((k) => (o as Record<string, unknown>)[k] !== undefined) ? o : undefined;
}

/**
 * A JSON response as connect's serializer makes it, left as text (its
 * serializer would encode it to bytes, which node would write apart from
 * the head). Its write limit is connect's default (4 GiB), more than any
 * string can encode to, so it is not checked here.
 */
function jsonText(desc: Route["method"]["desc"]["output"], response: Message, served: Served): string {
  try {
    return toJsonString(desc, response, served.jsonWrite);
  } catch (e) {
    throw ConnectError.from(e, Code.Internal);
  }
}

async function answerGrpc<T>(
  wire: AnswerWire<T>,
  res: T,
  taskId: string | undefined,
  body: Uint8Array | undefined,
  error: ConnectError | undefined,
  compression: Compression | null,
  compressMinBytes: number,
): Promise<void> {
  const headers: http.OutgoingHttpHeaders = { "content-type": "application/grpc+proto" };
  if (compression) headers["grpc-encoding"] = compression.name;
  let message: Uint8Array | undefined;
  // A success's trailers are one fixed field: connect's Headers only for an error's status and details.
  let trailers: http.OutgoingHttpHeaders = { "grpc-status": "0" };
  if (error || !body) {
    const trailer = new Headers(trailers as Record<string, string>);
    setTrailerStatus(trailer, error ?? new ConnectError("internal error", Code.Internal));
    trailers = {};
    trailer.forEach((value, key) => void (trailers[key] = value));
  } else {
    if (taskId !== undefined) headers[TASK_ID_HEADER] = taskId;
    const compress = compression !== null && body.byteLength >= compressMinBytes;
    message = encodeEnvelope(compress ? 1 : 0, compress ? await compression.compress(body) : body);
  }
  if (!wire.gone(res)) wire.trailed(res, headers, message, trailers);
}

/** connect's parser for the method; a body that is not protobuf is the caller's fault (see invalid-input.ts). */
function parse(route: Route, binary: boolean, bytes: Uint8Array) {
  try {
    return binary ? route.serialization.getI(true).parse(bytes) : route.parseJson(bytes);
  } catch (e) {
    throw asInvalidArgument(e);
  }
}

/**
 * A workflow call waits for its task: the wait ends when the client goes
 * away or its deadline passes, as connect's handler signal would end it.
 * Other methods never wait on a signal, so they get none.
 */
function waiterSignal<T>(wire: AnswerWire<T>, res: T, timeoutMs: number | undefined): { signal: AbortSignal; done(): void } {
  const controller = new AbortController();
  const gone = () => controller.abort(new ConnectError("the client went away", Code.Canceled));
  wire.onClose(res, gone);
  const timer =
    timeoutMs === undefined ? undefined : setTimeout(() => controller.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded)), timeoutMs);
  return {
    signal: controller.signal,
    done: () => {
      clearTimeout(timer);
      wire.offClose(res, gone);
    },
  };
}
