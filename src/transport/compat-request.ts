import * as http2 from "node:http2";

/**
 * What node's HTTP/2 server does with a stream when it has a 'request'
 * listener (lib/internal/http2/compat.js, onServerStream): it makes the
 * request and response objects, refuses CONNECT and unknown expectations,
 * and answers `expect: 100-continue`. Done here for the streams a
 * `H2StreamTaker` leaves, since the server then has no 'request' listener.
 */
export function serveCompat(
  server: http2.Http2Server,
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  rawHeaders: string[],
  onRequest: (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
): void {
  const req = new http2.Http2ServerRequest(stream, headers, {}, rawHeaders);
  const res = new http2.Http2ServerResponse(stream);
  if (headers[":method"] === "CONNECT") {
    if (!server.emit("connect", req, res)) {
      res.statusCode = http2.constants.HTTP_STATUS_METHOD_NOT_ALLOWED;
      res.end();
    }
    return;
  }
  const expect = headers.expect;
  if (expect !== undefined) {
    if (expect !== "100-continue") {
      res.statusCode = http2.constants.HTTP_STATUS_EXPECTATION_FAILED;
      res.end();
      return;
    }
    res.writeContinue();
  }
  onRequest(req, res);
}
