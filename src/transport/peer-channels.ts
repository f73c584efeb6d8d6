import * as net from "node:net";
import { CANCEL_CODE, encodeFrame, FrameReader, FRAMES_PREFACE, FrameWriter, HELLO_ID, MAX_CALLS_IN_FLIGHT, MAX_PEER_ANSWER_BYTES } from "./peer-frames.js";

/** A framed call's answer: the status the HTTP route would have answered, and its body. */
export interface FramedAnswer {
  readonly status: number;
  readonly body: Buffer;
}

/** The peer does not speak frames (a node of an older version), or the channel never opened: nothing was sent, send another way. */
export class NoFrames extends Error {}

/** A peer that has not answered the hello by then is taken for one that does not speak frames. */
const HELLO_MS = 5_000;
/** After a peer answered the hello otherwise, frames are not tried again for this long (it may be upgraded meanwhile). */
const RETRY_FRAMES_MS = 30_000;

interface Waiting {
  resolve(answer: FramedAnswer): void;
  reject(error: unknown): void;
}

/**
 * One framed channel per peer (peer-frames.ts; DESIGN.md §9): transaction
 * calls multiplexed on one long-lived socket, their frames written
 * together per event turn, answers matched by id. A channel that closes
 * fails its calls in flight (the caller's UNAVAILABLE; two-phase recovery
 * handles a lost answer) and is opened again on the next call.
 */
export class PeerChannels {
  readonly #channels = new Map<string, Channel>();
  /** Peers that answered the hello otherwise, until when. */
  readonly #unframed = new Map<string, number>();
  #closed = false;

  constructor(private readonly secret: string) {}

  /**
   * Sends a call of frame code `code` to `url`; undefined when frames are
   * not for this peer now (it does not speak them, or the channel is full):
   * the caller sends it another way. The promise rejects with `NoFrames`
   * when the channel did not open (the call was not sent), or with the
   * cause when the connection failed after the call was sent.
   */
  call(url: string, code: number, body: Uint8Array, signal: AbortSignal | undefined): Promise<FramedAnswer> | undefined {
    if (this.#closed || !url.startsWith("http://")) return undefined;
    const until = this.#unframed.get(url);
    if (until !== undefined) {
      if (Date.now() < until) return undefined;
      this.#unframed.delete(url);
    }
    let channel = this.#channels.get(url);
    if (!channel) this.#channels.set(url, (channel = new Channel(url, this.secret, this)));
    return channel.call(code, body, signal);
  }

  /** `channel` closed: the next call opens another; `unframed` when the peer answered the hello otherwise. */
  gone(channel: Channel, unframed: boolean): void {
    if (this.#channels.get(channel.url) === channel) this.#channels.delete(channel.url);
    if (unframed) this.#unframed.set(channel.url, Date.now() + RETRY_FRAMES_MS);
  }

  close(): void {
    this.#closed = true;
    for (const c of [...this.#channels.values()]) c.destroy(new Error("peer channels are closed"));
    this.#channels.clear();
  }
}

class Channel {
  readonly #socket: net.Socket;
  readonly #writer: FrameWriter;
  readonly #reader: FrameReader;
  readonly #waiting = new Map<number, Waiting>();
  /** Calls made before the hello was answered: sent once it is. */
  #held: Array<() => void> | undefined = [];
  #helloTimer: NodeJS.Timeout | undefined;
  #nextId = 1;
  #gone = false;

  constructor(
    readonly url: string,
    secret: string,
    private readonly owner: PeerChannels,
  ) {
    const { hostname, port } = new URL(url);
    this.#socket = net.connect({ host: hostname, port: Number(port || 80), noDelay: true });
    this.#writer = new FrameWriter((bytes) => {
      if (!this.#socket.destroyed) this.#socket.write(bytes);
    });
    this.#reader = new FrameReader(MAX_PEER_ANSWER_BYTES, (id, code, payload) => this.#answer(id, code, payload));
    this.#socket.on("data", (chunk: Buffer) => {
      try {
        this.#reader.push(chunk);
      } catch (e) {
        this.destroy(e instanceof Error ? e : new Error(String(e)), this.#held !== undefined);
      }
    });
    this.#socket.on("error", (e) => this.destroy(e));
    this.#socket.on("close", () => this.destroy(new Error("the connection closed")));
    // As peer-connections.ts: the socket does not keep a stopping process alive (a caller's wait does).
    this.#socket.unref();
    this.#socket.cork();
    this.#socket.write(FRAMES_PREFACE);
    this.#socket.write(encodeFrame(HELLO_ID, 0, Buffer.from(secret)));
    this.#socket.uncork();
    this.#helloTimer = setTimeout(() => this.destroy(new Error("the peer did not answer the frames hello"), true), HELLO_MS);
    this.#helloTimer.unref();
  }

  call(code: number, body: Uint8Array, signal: AbortSignal | undefined): Promise<FramedAnswer> | undefined {
    if (this.#waiting.size >= MAX_CALLS_IN_FLIGHT) return undefined;
    const id = this.#nextId;
    // Ids wrap before u32 does; one still waiting after 4 billion calls is not reused (its answer would be taken for another's).
    this.#nextId = this.#nextId >= 0xffff_fff0 ? 1 : this.#nextId + 1;
    return new Promise<FramedAnswer>((resolve, reject) => {
      const onAbort = () => {
        if (!this.#waiting.delete(id)) return;
        // The reason itself, as the HTTP/2 path rejects (peer-sender.ts tells it from a failure by identity).
        reject(signal!.reason);
        // The peer stops the call's work (a txn-run's method), as a closed HTTP exchange would.
        if (!this.#held) this.#writer.send(encodeFrame(id, CANCEL_CODE, new Uint8Array()));
      };
      const done = () => signal?.removeEventListener("abort", onAbort);
      this.#waiting.set(id, {
        resolve: (a) => (done(), resolve(a)),
        reject: (e) => (done(), reject(e)),
      });
      signal?.addEventListener("abort", onAbort, { once: true });
      const frame = encodeFrame(id, code, body);
      if (this.#held) this.#held.push(() => this.#waiting.has(id) && this.#writer.send(frame));
      else this.#writer.send(frame);
    });
  }

  #answer(id: number, status: number, payload: Buffer): void {
    if (id === HELLO_ID) {
      if (status !== 200 || !this.#held) return this.destroy(new Error(`the peer refused the frames hello (${status})`), true);
      clearTimeout(this.#helloTimer);
      const held = this.#held;
      this.#held = undefined;
      for (const send of held) send();
      return;
    }
    if (this.#held) return this.destroy(new Error("the peer answered before the hello"), true);
    const waiting = this.#waiting.get(id);
    if (!waiting) return; // cancelled meanwhile
    this.#waiting.delete(id);
    waiting.resolve({ status, body: payload });
  }

  /** Closes the channel and fails its calls: with `NoFrames` while the hello was unanswered (none was sent). */
  destroy(cause: Error, unframed = false): void {
    if (this.#gone) return;
    this.#gone = true;
    clearTimeout(this.#helloTimer);
    this.#socket.destroy();
    const opened = this.#held === undefined;
    this.owner.gone(this, unframed && !opened);
    const error = opened ? cause : new NoFrames(cause.message);
    const waiting = [...this.#waiting.values()];
    this.#waiting.clear();
    for (const w of waiting) w.reject(error);
  }
}
