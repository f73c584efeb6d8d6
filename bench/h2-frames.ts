/**
 * A minimal HTTP/2 client for the reactive bench's subscriber children and
 * the unary bench's lean client: frames read and written straight on a TCP
 * socket (RFC 9113), enough for many POST streams that receive DATA.
 *
 * Why: 1,000 real subscribers would be 1,000 client machines. In the bench
 * they share the server's 2 cores, and node:http2's client spends ~5 µs of
 * JavaScript per received DATA frame (a stream event each); here a socket
 * read of many frames is split in one loop, so the CPU the bench measures is
 * the server's.
 *
 * What it does not do: decode response headers (HPACK) beyond a status
 * the server sends from HPACK's static table (200, 204, 206, 304, 400, 404,
 * 500; any other is reported as 0), push,
 * priorities, or sending bodies over 16 KB. Flow control: it grants the
 * largest windows at the start and tops up the connection window as it
 * reads; a stream's 2^31-1 bytes are far beyond any bench run.
 */
import * as net from "node:net";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
const MAX_WINDOW = 2 ** 31 - 1;
const DEFAULT_WINDOW = 65_535;
/** Top up the connection window once this much was read. */
const WINDOW_TOP_UP = 16 * 2 ** 20;

enum FrameType {
  Data = 0x0,
  Headers = 0x1,
  RstStream = 0x3,
  Settings = 0x4,
  Ping = 0x6,
  GoAway = 0x7,
  WindowUpdate = 0x8,
}
const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const CANCEL = 0x8;

/** What a stream's owner hears. */
export interface StreamHandler {
  /** The response's status (0: one outside HPACK's static table), once. */
  head?(status: number): void;
  /** Response body bytes, in order. */
  data(chunk: Buffer): void;
  /** The stream ended: cleanly (`error` undefined) or not. */
  end(error?: Error): void;
}

/** HPACK's static table entries for `:status` (RFC 7541 appendix A), as indexed fields. */
const STATIC_STATUS = new Map([
  [0x88, 200],
  [0x89, 204],
  [0x8a, 206],
  [0x8b, 304],
  [0x8c, 400],
  [0x8d, 404],
  [0x8e, 500],
]);
const PRIORITY = 0x20;

/** A response's status from the first field of its header block (servers send `:status` first). */
function statusOf(flags: number, payload: Buffer): number {
  let at = 0;
  if (flags & PADDED) at += 1;
  if (flags & PRIORITY) at += 5;
  return STATIC_STATUS.get(payload[at] ?? 0) ?? 0;
}

function frame(type: FrameType, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.allocUnsafe(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

/** An HPACK string literal, not Huffman-coded (7-bit prefix length). */
function hpackString(s: string): Buffer {
  const bytes = Buffer.from(s, "latin1");
  const length: number[] = [];
  if (bytes.length < 127) length.push(bytes.length);
  else {
    length.push(127);
    let rest = bytes.length - 127;
    while (rest >= 128) {
      length.push((rest % 128) + 128);
      rest = Math.floor(rest / 128);
    }
    length.push(rest);
  }
  return Buffer.concat([Buffer.from(length), bytes]);
}

/** A header block of literal fields without indexing (new names): no table state to keep. */
function headerBlock(headers: ReadonlyArray<readonly [string, string]>): Buffer {
  return Buffer.concat(headers.flatMap(([name, value]) => [Buffer.from([0x00]), hpackString(name), hpackString(value)]));
}

export class H2Connection {
  readonly #socket: net.Socket;
  readonly #authority: string;
  readonly #streams = new Map<number, StreamHandler>();
  /** Streams whose response headers came (the next HEADERS frame is trailers). */
  readonly #answered = new Set<number>();
  /** Header blocks by the headers array they encode (a caller that reuses its arrays encodes each once). */
  readonly #blocks = new WeakMap<object, { path: string; block: Buffer }>();
  #nextStreamId = 1;
  #pending: Buffer = Buffer.alloc(0);
  #unacknowledged = 0;
  #closed = false;

  constructor(host: string, port: number) {
    this.#authority = `${host}:${port}`;
    this.#socket = net.connect({ host, port, noDelay: true });
    const settings = Buffer.alloc(12);
    settings.writeUInt16BE(0x2, 0); // ENABLE_PUSH
    settings.writeUInt32BE(0, 2);
    settings.writeUInt16BE(0x4, 6); // INITIAL_WINDOW_SIZE
    settings.writeUInt32BE(MAX_WINDOW, 8);
    this.#socket.write(Buffer.concat([PREFACE, frame(FrameType.Settings, 0, 0, settings), this.#windowUpdate(MAX_WINDOW - DEFAULT_WINDOW)]));
    this.#socket.on("data", (chunk: Buffer) => this.#read(chunk));
    this.#socket.on("error", (e) => this.#fail(e));
    this.#socket.on("close", () => this.#fail(new Error("connection closed")));
  }

  /** Opens a POST stream to `path` with `body` (under 16 KB) as its whole request. */
  post(path: string, headers: ReadonlyArray<readonly [string, string]>, body: Buffer, handler: StreamHandler): number {
    if (this.#closed) throw new Error("connection closed");
    const id = this.#nextStreamId;
    this.#nextStreamId += 2;
    this.#streams.set(id, handler);
    let cached = this.#blocks.get(headers);
    if (cached?.path !== path) {
      cached = { path, block: headerBlock([[":method", "POST"], [":scheme", "http"], [":authority", this.#authority], [":path", path], ...headers]) };
      this.#blocks.set(headers, cached);
    }
    const block = cached.block;
    this.#socket.write(Buffer.concat([frame(FrameType.Headers, END_HEADERS, id, block), frame(FrameType.Data, END_STREAM, id, body)]));
    return id;
  }

  /** Cancels one stream (RST_STREAM CANCEL). */
  cancel(id: number): void {
    if (!this.#streams.delete(id) || this.#closed) return;
    const code = Buffer.alloc(4);
    code.writeUInt32BE(CANCEL);
    this.#socket.write(frame(FrameType.RstStream, 0, id, code));
  }

  /** Closes the connection; open streams are not told. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#streams.clear();
    const goAway = Buffer.alloc(8); // last stream 0, NO_ERROR
    this.#socket.end(frame(FrameType.GoAway, 0, 0, goAway));
    setTimeout(() => this.#socket.destroy(), 1_000).unref();
  }

  #windowUpdate(increment: number): Buffer {
    const payload = Buffer.allocUnsafe(4);
    payload.writeUInt32BE(increment);
    return frame(FrameType.WindowUpdate, 0, 0, payload);
  }

  #read(chunk: Buffer): void {
    const buf = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    let offset = 0;
    while (buf.length - offset >= 9) {
      const length = buf.readUIntBE(offset, 3);
      if (buf.length - offset < 9 + length) break;
      const type = buf[offset + 3]!;
      const flags = buf[offset + 4]!;
      const streamId = buf.readUInt32BE(offset + 5) & 0x7fffffff;
      const payload = buf.subarray(offset + 9, offset + 9 + length);
      offset += 9 + length;
      this.#frame(type, flags, streamId, payload);
    }
    this.#pending = offset === buf.length ? Buffer.alloc(0) : buf.subarray(offset);
  }

  #frame(type: number, flags: number, streamId: number, payload: Buffer): void {
    switch (type) {
      case FrameType.Data: {
        this.#unacknowledged += payload.length;
        if (this.#unacknowledged >= WINDOW_TOP_UP) {
          this.#socket.write(this.#windowUpdate(this.#unacknowledged));
          this.#unacknowledged = 0;
        }
        const handler = this.#streams.get(streamId);
        if (!handler) return;
        const data = flags & PADDED ? payload.subarray(1, payload.length - payload[0]!) : payload;
        if (data.length > 0) handler.data(data);
        if (flags & END_STREAM) this.#end(streamId);
        return;
      }
      case FrameType.Headers: {
        // The response's headers, or its trailers; either way, END_STREAM ends it.
        const handler = this.#streams.get(streamId);
        if (handler?.head && !this.#answered.has(streamId)) {
          this.#answered.add(streamId);
          handler.head(statusOf(flags, payload));
        }
        if (flags & END_STREAM) this.#end(streamId);
        return;
      }
      case FrameType.RstStream:
        this.#end(streamId, new Error(`stream reset by the server (code ${payload.readUInt32BE(0)})`));
        return;
      case FrameType.Settings:
        if (!(flags & ACK)) this.#socket.write(frame(FrameType.Settings, ACK, 0));
        return;
      case FrameType.Ping:
        if (!(flags & ACK)) this.#socket.write(frame(FrameType.Ping, ACK, 0, Buffer.from(payload)));
        return;
      case FrameType.GoAway:
        this.#fail(new Error(`server sent GOAWAY (code ${payload.readUInt32BE(4)})`));
        return;
      default:
        // WINDOW_UPDATE (our requests are tiny), PRIORITY, CONTINUATION of headers we do not read.
        return;
    }
  }

  #end(streamId: number, error?: Error): void {
    const handler = this.#streams.get(streamId);
    if (!handler) return;
    this.#streams.delete(streamId);
    this.#answered.delete(streamId);
    handler.end(error);
  }

  #fail(error: Error): void {
    const handlers = [...this.#streams.values()];
    this.#streams.clear();
    this.#answered.clear();
    this.#closed = true;
    for (const h of handlers) h.end(error);
  }
}
