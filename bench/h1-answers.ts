/**
 * HTTP/1.1 answers read off a keep-alive socket by the lean load client
 * (bench/lean-client.ts), with the fewest JavaScript steps per answer: the
 * socket reads into one buffer of its own (`net.connect`'s `onread`: no
 * stream 'data' event, no Buffer per read), each answer's status and
 * Content-Length are parsed from the bytes (no head string, no regular
 * expression), and bytes are copied only when an answer spans reads.
 * Every unary answer measured here has a Content-Length.
 */

const CR = 13;
const LF = 10;
/** `content-length:` in lower case; `| 0x20` lowers a header name's letters and leaves `-` and `:` as they are. */
const CONTENT_LENGTH = Buffer.from("content-length:", "latin1");
/** Largest head read: a longer one is not an answer from our servers. */
const MAX_HEAD = 16 * 1024;
/** Each socket's read buffer. */
const READ_BYTES = 64 * 1024;

/** One socket's answers: `onAnswer(status)` for each whole one, `onError` once for bytes that are not an answer. */
export class H1Answers {
  /** Bytes of an answer not complete at the end of a read (copied out of the read buffer). */
  #partial: Buffer | undefined;
  readonly readBuffer = Buffer.allocUnsafe(READ_BYTES);

  constructor(
    private readonly onAnswer: (status: number) => void,
    private readonly onError: (e: Error) => void,
  ) {}

  /** `net.connect({ onread: { buffer, callback } })`'s callback: `nread` new bytes at the start of the read buffer; true keeps reading. */
  readonly read = (nread: number, buffer: Uint8Array): boolean => {
    this.#read(nread, buffer);
    return true;
  };

  #read(nread: number, buffer: Uint8Array): void {
    let data = buffer as Buffer;
    let end = nread;
    if (this.#partial) {
      data = Buffer.concat([this.#partial, data.subarray(0, nread)]);
      end = data.length;
      this.#partial = undefined;
    }
    let at = 0;
    while (at < end) {
      const used = this.#answer(data, at, end);
      if (used < 0) return;
      if (used === 0) {
        if (end - at > MAX_HEAD + READ_BYTES * 16) return this.onError(new Error("an answer larger than the client reads"));
        this.#partial = Buffer.from(data.subarray(at, end));
        return;
      }
      at += used;
    }
  }

  /** The length of the whole answer at `from` (0 while incomplete, -1 after an error), its status passed on. */
  #answer(data: Buffer, from: number, end: number): number {
    let length = -1;
    const limit = Math.min(end, from + MAX_HEAD);
    // Header lines: each starts after CR LF; the head ends at an empty one.
    for (let i = from; i + 1 < limit; i++) {
      if (data[i] !== CR || data[i + 1] !== LF) continue;
      const line = i + 2;
      if (line + 1 < end && data[line] === CR && data[line + 1] === LF) {
        if (length < 0) return this.#fail(data, from, "answer without content-length");
        const total = line + 2 - from + length;
        if (end - from < total) return 0;
        this.onAnswer((data[from + 9]! - 48) * 100 + (data[from + 10]! - 48) * 10 + (data[from + 11]! - 48));
        return total;
      }
      if (length < 0 && isContentLength(data, line, end)) length = digitsAt(data, line + CONTENT_LENGTH.length, end);
    }
    if (limit === from + MAX_HEAD) return this.#fail(data, from, "answer head too long");
    return 0;
  }

  #fail(data: Buffer, from: number, why: string): number {
    this.onError(new Error(`${why}: ${data.toString("latin1", from, Math.min(from + 80, data.length))}`));
    return -1;
  }
}

function isContentLength(data: Buffer, at: number, end: number): boolean {
  if (end - at < CONTENT_LENGTH.length) return false;
  for (let k = 0; k < CONTENT_LENGTH.length; k++) if ((data[at + k]! | 0x20) !== CONTENT_LENGTH[k]) return false;
  return true;
}

/** The decimal number after optional spaces at `at` (-1 without digits). */
function digitsAt(data: Buffer, at: number, end: number): number {
  while (at < end && data[at] === 32) at++;
  let n = -1;
  for (; at < end && data[at]! >= 48 && data[at]! <= 57; at++) n = (n < 0 ? 0 : n * 10) + (data[at]! - 48);
  return n;
}
