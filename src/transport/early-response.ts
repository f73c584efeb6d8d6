import * as http2 from "node:http2";

/**
 * How long an answered HTTP/2 request may keep sending its body before it is
 * answered anyway: until it sends nothing for `idleMs`, or for `maxMs` in
 * all. A slow client (a busy machine, a thin link) that keeps sending gets
 * its answer whole; one that stalls, or trickles, does not hold the stream.
 */
export interface DrainLimits {
  readonly idleMs: number;
  readonly maxMs: number;
}

export const DRAIN_LIMITS: DrainLimits = { idleMs: 5_000, maxMs: 60_000 };

/**
 * An HTTP/2 answer ready before its request body is all in (a request over
 * maxMessageBytes, a malformed envelope) must still reach the client whole.
 * Sent at once, it does not reliably: curl stops uploading when it sees an
 * error status and ends its stream early, nghttp2 answers that short body
 * (shorter than its content-length) with RST_STREAM(PROTOCOL_ERROR), and
 * the client may report the reset instead of the answer; a gRPC client that
 * keeps uploading stalls for good, because nobody reads the body any more
 * and the flow-control window never reopens. So such an answer is held
 * until the rest of the body has been read and thrown away, within
 * `limits`; after that it is sent and the stream closed with NO_ERROR, as
 * RFC 9113 §8.1 lets a server ask a client to stop sending.
 *
 * On a unary or server-streaming route an answer that starts before the
 * request is complete is always such an early one; bidirectional routes
 * are not held (see `listen`).
 */
export function holdEarlyResponse(req: http2.Http2ServerRequest, res: http2.Http2ServerResponse, limits = DRAIN_LIMITS): void {
  const stream = req.stream;
  const { writeHead, write, end } = res;
  type Call = [method: (...args: never[]) => unknown, args: unknown[]];
  let held: Call[] | undefined;
  const unhook = () => Object.assign(res, { writeHead, write, end });
  const hold = (method: Call[0], args: unknown[]): unknown => {
    if (held === undefined) {
      if (bodyReceived(stream)) {
        unhook();
        return method.apply(res, args as never[]);
      }
      const calls: Call[] = (held = []);
      void discardRest(stream, limits).then((complete) => {
        unhook();
        for (const [m, a] of calls) m.apply(res, a as never[]);
        if (!complete) closeOnceSent(stream);
      });
    }
    // While held, headersSent stays false, so a caller may write the head twice.
    if (method !== writeHead || !held.some(([m]) => m === writeHead)) held.push([method, args]);
    return method === write ? true : res;
  };
  res.writeHead = ((...args: unknown[]) => hold(writeHead, args)) as typeof writeHead;
  res.write = ((...args: unknown[]) => hold(write, args)) as typeof write;
  res.end = ((...args: unknown[]) => hold(end, args)) as typeof end;
}

/**
 * The same hold for a stream answered on the stream itself (the fast
 * path's, with no response object to hook): `answer` runs at once if the
 * request body is all in, else once the rest has been read and dropped.
 */
export function answerWhenReceived(stream: http2.ServerHttp2Stream, answer: () => void, limits = DRAIN_LIMITS): void {
  if (bodyReceived(stream)) return answer();
  void discardRest(stream, limits).then((complete) => {
    if (stream.destroyed) return;
    answer();
    if (!complete) closeOnceSent(stream);
  });
}

/** The client has sent its END_STREAM (or the stream is gone). */
export function bodyReceived(stream: http2.ServerHttp2Stream): boolean {
  return stream.destroyed || stream.readableEnded || stream.state.remoteClose === 1;
}

/** Reads the request body to its end and drops it; false if `limits` ran out first. */
function discardRest(stream: http2.ServerHttp2Stream, limits: DrainLimits): Promise<boolean> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (complete: boolean) => {
      settled = true;
      clearTimeout(idle);
      clearTimeout(total);
      stream.off("end", onEnd);
      stream.off("close", onEnd);
      resolve(complete);
    };
    const onEnd = () => done(true);
    const giveUp = () => done(false);
    const idle = setTimeout(giveUp, limits.idleMs);
    const total = setTimeout(giveUp, limits.maxMs);
    // Stays on (a no-op once settled): with no data listener the rest of the body would not be read.
    const onData = () => {
      if (!settled) idle.refresh();
    };
    stream.once("end", onEnd);
    stream.once("close", onEnd);
    // The request object may be destroyed or paused by a handler that gave
    // up on it; its listener would pause the stream again on every chunk.
    stream.removeAllListeners("data");
    stream.on("data", onData);
    stream.resume();
  });
}

/** RST_STREAM(NO_ERROR) once our END_STREAM is out, not before (the reset would overtake it). */
function closeOnceSent(stream: http2.ServerHttp2Stream): void {
  let tries = 0;
  const check = () => {
    if (stream.destroyed || stream.closed) return;
    if (stream.state.localClose === 1 || ++tries > 1000) stream.close(http2.constants.NGHTTP2_NO_ERROR);
    else setTimeout(check, 5);
  };
  check();
}
