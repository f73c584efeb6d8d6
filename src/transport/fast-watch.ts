import type * as http from "node:http";
import type * as http2 from "node:http2";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import { createEndStreamSerialization, endStreamFlag } from "@connectrpc/connect/protocol-connect";
import { WatchRequestSchema, WatchResponseSchema } from "../../generated/cairn/v1/reactive_pb.js";
import type { Runtime } from "../runtime/runtime.js";
import type { Subscription } from "../runtime/engine.js";
import { openWatch } from "../runtime/reactive.js";
import { serverStopping } from "../api/errors.js";
import { watchCall } from "./reactive-routes.js";
import { nodeRequestHeaders } from "./request-headers.js";
import type { Drain } from "./drain.js";
import type { NodeHandler } from "./server.js";
import { toWireError } from "../api/wire-error.js";

/**
 * `cairn.v1.Reactive/Watch` for the Connect protocol (binary, uncompressed,
 * no timeout header), served straight on the Node response instead of
 * through connect's handler.
 *
 * Why: a hot actor with many watchers is bound by the server's CPU per
 * delivered message, and most of it went to connect's per-message pipeline
 * (a chain of async generators per stream: serialize, envelope, compress,
 * join, write). Here an update is framed once (5-byte envelope header +
 * WatchResponse) and the same bytes are written to every subscriber of that
 * shared watch. Requests are checked by the same `watchCall` as the
 * connect route. Every other request, including Watch over gRPC, gRPC-Web,
 * Connect JSON, compression or a deadline, goes to connect unchanged.
 */
export function withFastWatch(runtime: Runtime, readMaxBytes: number, fallback: NodeHandler, drain: Drain): NodeHandler {
  return (req, res) => {
    const h = req.headers;
    const fast =
      req.method === "POST" &&
      req.url === WATCH_PATH &&
      h["content-type"] === CONTENT_TYPE &&
      (h["connect-content-encoding"] === undefined || h["connect-content-encoding"] === "identity") &&
      h["connect-timeout-ms"] === undefined;
    if (!fast) return fallback(req, res);
    serve(runtime, readMaxBytes, drain, req, res).catch(() => res.destroy());
  };
}

const WATCH_PATH = "/cairn.v1.Reactive/Watch";
const CONTENT_TYPE = "application/connect+proto";

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

const endStream = createEndStreamSerialization(undefined);

async function serve(runtime: Runtime, readMaxBytes: number, drain: Drain, req: Request, res: Response): Promise<void> {
  let subscription: Subscription | undefined;
  let closed = false;
  // The server stopping ends the stream as the connect route's would.
  const stopping = () => end(toWireError(serverStopping()));
  // Closing (client gone, or we ended) frees the subscription.
  const close = () => {
    closed = true;
    drain.signal.removeEventListener("abort", stopping);
    subscription?.close();
  };
  res.once("close", close);
  // A write racing a disconnect may error; the close above already cleans up.
  res.on("error", close);
  const end = (error: ConnectError | undefined): void => {
    close();
    if (res.destroyed || res.writableEnded) return;
    // Streams answer 200 even for an error: it travels in the end-stream message.
    writeHead(res);
    res.end(encodeEnvelope(endStreamFlag, endStream.serialize({ metadata: new Headers(), error })));
  };
  try {
    if (drain.draining) throw serverStopping();
    drain.signal.addEventListener("abort", stopping, { once: true });
    const watchReq = fromEnvelope(await readBody(req, readMaxBytes + 5), readMaxBytes);
    const { call, caller } = watchCall(runtime, watchReq, nodeRequestHeaders(req.headers));
    if (closed) return;
    // Headers now; then responses go straight to the HTTP/2 stream (a
    // micro-second less per message than through the compat response).
    writeHead(res);
    // (The connection: subscribers sharing it are woken together.)
    const [out, connection]: [NodeJS.WritableStream, object | undefined] = "stream" in res ? [res.stream, res.stream.session] : [res, req.socket];
    subscription = await openWatch(runtime, call, caller, {
      // Written as it comes; once the stream's buffer is full, the
      // subscription holds back and on drain sends only the newest.
      push: (bytes) => out.write(framed(bytes)),
      fail: (e) => end(toWireError(e)),
    }, connection);
    if (closed) subscription.close();
    else out.on("drain", () => subscription?.ready());
  } catch (e) {
    end(toWireError(e));
  }
}

/** Response bytes (shared by all subscribers of a watch) → their framed WatchResponse. */
const framedCache = new WeakMap<Uint8Array, Uint8Array>();

function framed(response: Uint8Array): Uint8Array {
  let bytes = framedCache.get(response);
  if (!bytes) {
    bytes = encodeEnvelope(0, toBinary(WatchResponseSchema, create(WatchResponseSchema, { response })));
    framedCache.set(response, bytes);
  }
  return bytes;
}

function writeHead(res: Response): void {
  if (!res.headersSent) res.writeHead(200, { "content-type": CONTENT_TYPE });
}

async function readBody(req: Request, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new ConnectError(`message larger than ${limit - 5} bytes`, Code.ResourceExhausted);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The request body must be exactly one uncompressed enveloped WatchRequest. */
function fromEnvelope(body: Buffer, readMaxBytes: number) {
  if (body.length < 5 || body[0] !== 0 || body.readUInt32BE(1) !== body.length - 5) {
    throw new ConnectError("request is not one enveloped WatchRequest", Code.InvalidArgument);
  }
  if (body.length - 5 > readMaxBytes) {
    throw new ConnectError(`message larger than ${readMaxBytes} bytes`, Code.ResourceExhausted);
  }
  try {
    return fromBinary(WatchRequestSchema, body.subarray(5));
  } catch (e) {
    throw new ConnectError(`request is not a valid cairn.v1.WatchRequest: ${e instanceof Error ? e.message : String(e)}`, Code.InvalidArgument);
  }
}
