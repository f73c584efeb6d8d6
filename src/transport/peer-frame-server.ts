import type * as net from "node:net";
import { timingSafeEqual } from "node:crypto";
import { CallCancelled, notFound, Unavailable } from "../api/errors.js";
import { answerBytes, type AnswerBytes } from "./peer-answer-bytes.js";
import { CANCEL_CODE, encodeFrame, frameOp, FrameReader, FRAMES_PREFACE, FrameWriter, HELLO_ID, MAX_CALLS_IN_FLIGHT, type FrameOp } from "./peer-frames.js";

/** How a serving node answers framed calls. */
export interface FramedServing {
  /** Answers one call as the peer-call route would (peer-call-route.ts `peerCallAnswer`); `signal` aborts when the caller gives up. */
  answer(op: FrameOp, body: Uint8Array, signal: AbortSignal): Promise<AnswerBytes>;
  /** The largest call body read (the node's request limit). */
  readonly maxBytes: number;
}

/** A frame's largest payload while the node is starting (its calls are answered UNAVAILABLE). */
const STARTING_MAX_BYTES = 64 * 1024;

/**
 * The answering side of framed peer channels (peer-channels.ts sends),
 * on the peer port: server.ts hands it each connection that starts with
 * the frames preface. A connection is read only after its hello carries
 * the cluster secret (else it is told 403 and closed); a frame over
 * the request limit, a call past `MAX_CALLS_IN_FLIGHT` or an id already in
 * flight closes it, before anything runs. Its calls in flight are
 * cancelled when it closes, as an HTTP peer call's are.
 */
export class PeerFrameServer {
  readonly #connections = new Set<FrameConnection>();
  #draining = false;

  constructor(
    private readonly secret: string,
    /** Undefined while the node is starting: calls are answered UNAVAILABLE. */
    private readonly serving: () => FramedServing | undefined,
  ) {}

  /** A connection whose first read, `first`, starts with the preface; the socket is paused. */
  take(socket: net.Socket, first: Buffer): void {
    const connection = new FrameConnection(socket, this.secret, this.serving, () => this.#draining);
    this.#connections.add(connection);
    socket.once("close", () => this.#connections.delete(connection));
    connection.start(first.subarray(FRAMES_PREFACE.length));
  }

  /** Stopping: new calls are answered UNAVAILABLE, and each connection ends once its calls in flight are answered. */
  drain(): void {
    this.#draining = true;
    for (const c of this.#connections) c.endWhenIdle();
  }
}

class FrameConnection {
  readonly #reader: FrameReader;
  readonly #writer: FrameWriter;
  readonly #inFlight = new Map<number, AbortController>();
  #hello = false;
  #refused = false;
  #ending = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly secret: string,
    private readonly serving: () => FramedServing | undefined,
    private readonly draining: () => boolean,
  ) {
    this.#reader = new FrameReader(() => serving()?.maxBytes ?? STARTING_MAX_BYTES, (id, code, payload) => this.#frame(id, code, payload));
    this.#writer = new FrameWriter((bytes) => {
      if (!socket.destroyed) socket.write(bytes);
    });
    socket.on("error", () => socket.destroy());
    socket.on("close", () => {
      const cancelled = new CallCancelled("the calling node went away");
      for (const c of this.#inFlight.values()) c.abort(cancelled);
      this.#inFlight.clear();
    });
  }

  start(rest: Buffer): void {
    this.socket.on("data", (chunk: Buffer) => this.#read(chunk));
    if (rest.length > 0) this.#read(rest);
    this.socket.resume();
  }

  endWhenIdle(): void {
    this.#ending = true;
    if (this.#inFlight.size === 0) this.#end();
  }

  #read(chunk: Buffer): void {
    try {
      this.#reader.push(chunk);
    } catch {
      // Oversize, or a frame that breaks the rules: the connection is not trusted further.
      this.socket.destroy();
    }
  }

  #frame(id: number, code: number, payload: Buffer): void {
    if (this.socket.destroyed || this.#refused) return;
    if (!this.#hello) {
      if (id !== HELLO_ID) throw new Error("a frame before the hello");
      const given = payload;
      const secret = Buffer.from(this.secret);
      if (given.length !== secret.length || !timingSafeEqual(given, secret)) {
        // Nothing more is read: the refusal, then the end.
        this.#refused = true;
        this.socket.removeAllListeners("data");
        this.socket.end(encodeFrame(HELLO_ID, 403, new Uint8Array()));
        return;
      }
      this.#hello = true;
      return this.#writer.send(encodeFrame(HELLO_ID, 200, new Uint8Array()));
    }
    if (code === CANCEL_CODE) return this.#inFlight.get(id)?.abort(new CallCancelled("the calling node gave up on the call"));
    if (id === HELLO_ID || this.#inFlight.has(id)) throw new Error(`a call frame reuses id ${id}`);
    if (this.#inFlight.size >= MAX_CALLS_IN_FLIGHT) throw new Error(`more than ${MAX_CALLS_IN_FLIGHT} calls in flight`);
    const stop = new AbortController();
    this.#inFlight.set(id, stop);
    const op = frameOp(code);
    const serving = this.serving();
    const answer = this.draining()
      ? answerBytes(Promise.reject(new Unavailable("this node is stopping")), () => undefined)
      : !serving
        ? answerBytes(Promise.reject(new Unavailable("this node is starting")), () => undefined)
        : !op
          ? answerBytes(Promise.reject(notFound(`no framed peer call ${code}`)), () => undefined)
          : serving.answer(op, payload, stop.signal);
    void answer.then((a) => {
      if (this.#inFlight.get(id) !== stop) return;
      this.#inFlight.delete(id);
      this.#writer.send(encodeFrame(id, a.status, a.body));
      if (this.#ending && this.#inFlight.size === 0) this.#end();
    });
  }

  #end(): void {
    // After the answers queued this turn are written.
    setImmediate(() => this.socket.end());
  }
}
