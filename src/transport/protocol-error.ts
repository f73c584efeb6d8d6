import type * as http from "node:http";
import type * as http2 from "node:http2";
import type { ConnectError } from "@connectrpc/connect";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import { codeToHttpStatus, endStreamFlag, endStreamToJson, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

/**
 * Answers `error` in the protocol the request speaks (by its content type),
 * for a layer that refuses a call before connect's handler sees it (the
 * forwarding layer: a peer that is down, a caller posing as a peer).
 * gRPC: trailers-only; gRPC-Web: a trailer frame; Connect streaming: an
 * end-stream message; Connect unary and anything else: the HTTP status
 * with connect's JSON error body.
 */
export function answerError(req: Request, res: Response, error: ConnectError): void {
  const contentType = String(req.headers["content-type"] ?? "");
  const headers: http.OutgoingHttpHeaders = {};
  let status = 200;
  let body: Uint8Array;
  if (/^application\/grpc-web/.test(contentType)) {
    const trailer = new Headers();
    setTrailerStatus(trailer, error);
    body = encodeEnvelope(trailerFlag, trailerSerialize(trailer));
    if (contentType.startsWith("application/grpc-web-text")) body = Buffer.from(Buffer.from(body).toString("base64"));
    headers["content-type"] = contentType;
  } else if (/^application\/grpc/.test(contentType)) {
    const trailer = new Headers();
    setTrailerStatus(trailer, error);
    trailer.forEach((value, key) => void (headers[key] = value));
    headers["content-type"] = contentType;
    body = new Uint8Array(0);
  } else if (/^application\/connect\+/.test(contentType)) {
    const json = JSON.stringify(endStreamToJson(error.metadata, error, {}));
    body = encodeEnvelope(endStreamFlag, new TextEncoder().encode(json));
    headers["content-type"] = contentType;
  } else {
    status = codeToHttpStatus(error.code);
    body = errorToJsonBytes(error, {});
    headers["content-type"] = "application/json";
  }
  headers["content-length"] = body.byteLength;
  res.writeHead(status, headers);
  res.end(body);
}
