import type * as http from "node:http";
import type * as http2 from "node:http2";
import { answerWhenReceived, bodyReceived } from "./early-response.js";

/**
 * Where a fast-path answer goes: node's response object (HTTP/1.1, and
 * HTTP/2 through node's compatibility layer), or an HTTP/2 stream taken
 * whole, with no request and response objects made for it. One object per
 * kind, shared by every call: the call passes its own target.
 */
export interface AnswerWire<T> {
  /** The client is gone: nothing can be sent. */
  gone(target: T): boolean;
  onClose(target: T, listener: () => void): void;
  offClose(target: T, listener: () => void): void;
  /** A whole answer: status, head and body (`headers` is the call's own, filled in here). */
  whole(target: T, status: number, headers: http.OutgoingHttpHeaders, body: Uint8Array | string, length: number): void;
  /** A gRPC answer: head, the message if any, trailers. */
  trailed(target: T, headers: http.OutgoingHttpHeaders, message: Uint8Array | undefined, trailers: http.OutgoingHttpHeaders): void;
}

export type Response = http.ServerResponse | http2.Http2ServerResponse;

export const responseWire: AnswerWire<Response> = {
  gone: (res) => res.destroyed,
  onClose: (res, listener) => void res.once("close", listener),
  offClose: (res, listener) => void res.off("close", listener),
  whole(res, status, headers, body, length) {
    headers["content-length"] = length;
    res.writeHead(status, headers);
    // A JSON answer stays a string: node joins it to the head as one chunk (no encoding to bytes first).
    res.end(body);
  },
  trailed(res, headers, message, trailers) {
    res.writeHead(200, headers);
    if (message) (res as http.ServerResponse).write(message);
    res.addTrailers(trailers);
    res.end();
  },
};

/**
 * A taken stream. An answer ready before the request body is all in is
 * held as early-response.ts holds one on the compatibility path.
 */
export const streamWire: AnswerWire<http2.ServerHttp2Stream> = {
  gone: (stream) => stream.destroyed || stream.closed,
  onClose: (stream, listener) => void stream.once("close", listener),
  offClose: (stream, listener) => void stream.off("close", listener),
  whole(stream, status, headers, body, length) {
    headers[":status"] = status;
    headers["content-length"] = length;
    if (bodyReceived(stream)) return respondWhole(stream, headers, body);
    answerWhenReceived(stream, () => respondWhole(stream, headers, body));
  },
  trailed(stream, headers, message, trailers) {
    headers[":status"] = 200;
    if (bodyReceived(stream)) return respondTrailed(stream, headers, message, trailers);
    answerWhenReceived(stream, () => respondTrailed(stream, headers, message, trailers));
  },
};

function respondWhole(stream: http2.ServerHttp2Stream, headers: http.OutgoingHttpHeaders, body: Uint8Array | string): void {
  if (stream.destroyed || stream.closed) return;
  stream.respond(headers);
  stream.end(body);
}

function respondTrailed(
  stream: http2.ServerHttp2Stream,
  headers: http.OutgoingHttpHeaders,
  message: Uint8Array | undefined,
  trailers: http.OutgoingHttpHeaders,
): void {
  if (stream.destroyed || stream.closed) return;
  stream.respond(headers, { waitForTrailers: true });
  stream.once("wantTrailers", () => stream.sendTrailers(trailers));
  if (message) stream.end(message);
  else stream.end();
}
