import type { Readable } from "node:stream";
import { Code, ConnectError } from "@connectrpc/connect";

type Decompressor = { decompress(bytes: Uint8Array, readMaxBytes: number): Promise<Uint8Array> };

/**
 * A unary request's whole body, at most `limit` bytes, with connect's
 * errors: a declared length over the limit is refused before reading, a
 * body that breaks its declared length is INVALID_ARGUMENT; an `enveloped`
 * (gRPC) body is refused as soon as its envelope header declares a message
 * over `limit`, as connect's envelope reader does. On an error the
 * rest is left unread (node discards it once the answer is out; over
 * HTTP/2 the early answer waits for it: see early-response.ts).
 */
export function readRequestBody(req: Readable, limit: number, declaredLength: string | null, enveloped = false): Promise<Uint8Array> {
  const hint = declaredLength === null || !/^\d+$/.test(declaredLength) ? undefined : Number(declaredLength);
  if (hint !== undefined && hint > limit) return Promise.reject(tooLarge(hint, limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (error: ConnectError) => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("close", onClose);
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (hint !== undefined && size > hint) return stop(promised(hint, size));
      chunks.push(chunk);
      if (enveloped && size >= 5 && size - chunk.length < 5) {
        const length = (chunks.length === 1 ? chunk : Buffer.concat(chunks)).readUInt32BE(1);
        if (length > limit) return stop(tooLarge(length, limit));
      }
      if (size > (enveloped ? limit + 5 : limit)) return stop(new ConnectError(`message size is larger than configured readMaxBytes ${limit}`, Code.ResourceExhausted));
    };
    const onEnd = () => {
      req.off("close", onClose);
      if (hint !== undefined && size < hint) return reject(promised(hint, size));
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    // Closed before its end: the client went away mid-request.
    const onClose = () => stop(new ConnectError("the client went away", Code.Canceled));
    // `on`, not `once`: each fires at most once here, and `once` would wrap each listener (an object and a bound function per call).
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("close", onClose);
  });
}

function tooLarge(size: number, limit: number): ConnectError {
  return new ConnectError(`message size ${size} is larger than configured readMaxBytes ${limit}`, Code.ResourceExhausted);
}

function promised(hint: number, received: number): ConnectError {
  return new ConnectError(`protocol error: promised ${hint} bytes, received ${received}`, Code.InvalidArgument);
}

/**
 * The one message of a unary gRPC request body (5-byte envelope header,
 * then the message), with connect's errors for none, a cut-off one, more
 * than one, too large, or compressed without a negotiated encoding.
 */
export async function unaryEnvelope(body: Uint8Array, compression: Decompressor | null, readMaxBytes: number): Promise<Uint8Array> {
  if (body.byteLength === 0) throw new ConnectError("protocol error: missing input message for unary method", Code.Unimplemented);
  if (body.byteLength < 5) throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const flags = view.getUint8(0);
  const length = view.getUint32(1);
  if (length > readMaxBytes) throw tooLarge(length, readMaxBytes);
  if (body.byteLength < 5 + length) throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
  if (body.byteLength > 5 + length) throw new ConnectError("protocol error: received extra input message for unary method", Code.Unimplemented);
  const data = body.subarray(5);
  if ((flags & COMPRESSED) === 0) return data;
  if (!compression) throw new ConnectError("received compressed envelope, but do not know how to decompress", Code.Internal);
  return compression.decompress(data, readMaxBytes);
}

const COMPRESSED = 0b01;
