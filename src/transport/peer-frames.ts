/**
 * The framed peer channel's wire (DESIGN.md §9): after a preface, each
 * message is one frame, `u32 length | u32 id | u16 code | payload`
 * (big-endian, `length` counts the payload). A call's `code` names its op,
 * its answer's is the HTTP status the route would have answered; the id
 * pairs them, so many calls share one connection. Frame 0 each way is the
 * hello: the caller's carries the cluster secret, the answer's status 200
 * says the peer took it.
 */

/** A connection whose first bytes are these speaks frames (no HTTP/1.1 request line or HTTP/2 preface starts so). */
export const FRAMES_PREFACE = Buffer.from("CAIRN-FRAMES/1\r\n", "latin1");
export const FRAME_HEAD_BYTES = 10;
/** The hello's id (calls count from 1). */
export const HELLO_ID = 0;
/** Most calls in flight on one connection: the caller sends others another way; past it, the answerer closes the connection. */
export const MAX_CALLS_IN_FLIGHT = 1024;
/** The largest answer a caller reads from a peer, framed or not: a response message, or an ended task's. */
export const MAX_PEER_ANSWER_BYTES = 64 * 1024 * 1024;
/** A caller's frame with this code and a call's id: the caller gave up on it (its abort signal), stop its work. */
export const CANCEL_CODE = 0xffff;

/** The ops a frame's code names; the index is the code (append only: nodes of two versions talk). */
export const FRAME_OPS = ["txn-run", "txn-prepare", "txn-finish", "txn-decision", "txn-batch", "txn-peek"] as const;
export type FrameOp = (typeof FRAME_OPS)[number];
const CODES = new Map<string, number>(FRAME_OPS.map((op, i) => [op, i + 1]));

/** The code of `op`, or undefined when frames do not carry it. */
export const frameCode = (op: string): number | undefined => CODES.get(op);
/** The op a call frame's code names, or undefined. */
export const frameOp = (code: number): FrameOp | undefined => FRAME_OPS[code - 1];

/** One frame's bytes. */
export function encodeFrame(id: number, code: number, payload: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEAD_BYTES + payload.byteLength);
  frame.writeUInt32BE(payload.byteLength, 0);
  frame.writeUInt32BE(id, 4);
  frame.writeUInt16BE(code, 8);
  frame.set(payload, FRAME_HEAD_BYTES);
  return frame;
}

/**
 * Frames out of a byte stream split anywhere: `push` each chunk read;
 * `onFrame` gets each whole one (its payload a view of the bytes read:
 * a socket's 'data' chunks are never reused). A frame longer than
 * `maxPayload` throws before its bytes are held: the caller closes the
 * connection.
 */
export class FrameReader {
  /** The bytes of a frame not whole yet, joined once it is (not per chunk: a large frame comes in many). */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** How many bytes `#pending` must hold before it is read again: the next frame's whole, or its head. */
  #needed = 0;

  constructor(
    /** A number, or read at each frame (a limit set after the connection opened). */
    private readonly maxPayload: number | (() => number),
    private readonly onFrame: (id: number, code: number, payload: Buffer) => void,
  ) {}

  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.#pendingBytes > 0) {
      this.#pending.push(chunk);
      this.#pendingBytes += chunk.length;
      if (this.#pendingBytes < this.#needed) return;
      buf = Buffer.concat(this.#pending, this.#pendingBytes);
      this.#pending = [];
      this.#pendingBytes = 0;
    }
    let at = 0;
    while (buf.length - at >= FRAME_HEAD_BYTES) {
      const length = buf.readUInt32BE(at);
      const max = typeof this.maxPayload === "number" ? this.maxPayload : this.maxPayload();
      if (length > max) throw new Error(`a peer frame of ${length} bytes is over the ${max} allowed`);
      const end = at + FRAME_HEAD_BYTES + length;
      if (buf.length < end) break;
      this.onFrame(buf.readUInt32BE(at + 4), buf.readUInt16BE(at + 8), buf.subarray(at + FRAME_HEAD_BYTES, end));
      at = end;
    }
    // At most one frame's bytes are held (its length, once read, was checked).
    if (at < buf.length) {
      const rest = buf.subarray(at);
      this.#pending = [rest];
      this.#pendingBytes = rest.length;
      this.#needed = rest.length >= FRAME_HEAD_BYTES ? FRAME_HEAD_BYTES + rest.readUInt32BE(0) : FRAME_HEAD_BYTES;
    }
  }
}

/**
 * Frames written by a socket, coalesced: those queued in one event turn go
 * out as one write at its end (one system call for many calls or answers).
 */
export class FrameWriter {
  #queue: Buffer[] = [];
  #scheduled = false;

  constructor(private readonly write: (bytes: Buffer) => void) {}

  send(frame: Buffer): void {
    this.#queue.push(frame);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#flush);
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    const queue = this.#queue;
    this.#queue = [];
    if (queue.length > 0) this.write(queue.length === 1 ? queue[0]! : Buffer.concat(queue));
  };
}
