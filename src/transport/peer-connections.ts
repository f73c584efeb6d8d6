import type * as http from "node:http";
import * as net from "node:net";

/** Where a forwarded answer goes: its head, then its body in order, then its end or a failure. */
export interface AnswerSink {
  /**
   * The head; with `whole`, the entire body too and nothing follows (the
   * common small answer: held until complete, then written with its head).
   */
  head(status: number, headers: http.OutgoingHttpHeaders, whole?: Buffer): void;
  data(chunk: Buffer): void;
  /** The end of a body that came by `data`. */
  end(): void;
  /** The connection failed; `answered` once `head` was called. */
  failed(error: Error, answered: boolean): void;
}

/** An exchange in progress: `cancel` drops it (its connection is closed, never reused). */
export interface Exchange {
  cancel(): void;
}

/** Most connections open to one peer: past it the caller forwards another way (peer-sessions.ts). */
const MAX_OPEN_PER_PEER = 128;
/**
 * An idle connection is not reused after this, well before the peer's
 * keep-alive timeout (60 s, server.ts) could close it under a request; it
 * closes when the peer closes it. (A timer per exchange showed in the profile.)
 */
const REUSE_WITHIN_MS = 20_000;
/** A fixed-length answer up to this size is held and written with its head; a longer one streams. */
const WHOLE_BYTES = 64 * 1024;
/** A peer's answer head may not be longer. */
const MAX_HEAD_BYTES = 64 * 1024;

/** Headers that describe a hop, not the answer (HTTP/2 forbids them too). */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]);

/**
 * Keep-alive HTTP/1.1 connections to peers, for forwarded unary Connect
 * calls (DESIGN.md §9). Why not the pooled HTTP/2 session: node's http2
 * client stream (a Duplex with its events) and the owner's http2
 * compatibility objects cost about as much CPU as serving the call; a
 * request written as one buffer and an answer parsed by its length are a
 * fraction of that. A connection carries one exchange at a time (no
 * pipelining); at most `MAX_OPEN_PER_PEER` are open per peer, so
 * `exchange` answers undefined rather than open more.
 */
export class PeerConnections {
  readonly #idle = new Map<string, Connection[]>();
  readonly #open = new Map<string, number>();
  #closed = false;

  /**
   * Sends `head` (request line and headers, ending in an empty line) and
   * `body` to `url`'s host and port, and the answer to `sink`; undefined
   * when this peer already has its most connections open.
   */
  exchange(url: string, head: string, body: Uint8Array, sink: AnswerSink): Exchange | undefined {
    if (this.#closed) throw new Error("peer connections are closed");
    let connection = this.#reusable(url);
    if (!connection) {
      const open = this.#open.get(url) ?? 0;
      if (open >= MAX_OPEN_PER_PEER) return undefined;
      this.#open.set(url, open + 1);
      connection = new Connection(url, this);
    }
    connection.send(head, body, sink);
    return connection;
  }

  /** The most recently released idle connection to `url`; older ones past their reuse are closed. */
  #reusable(url: string): Connection | undefined {
    const idle = this.#idle.get(url);
    if (!idle || idle.length === 0) return undefined;
    const now = Date.now();
    // Released in order: the stale ones are first.
    while (idle.length > 0 && now - idle[0]!.idleSince > REUSE_WITHIN_MS) idle.shift()!.destroy();
    return idle.pop();
  }

  /** A connection done with its exchange: kept for the next one, or closed. */
  release(connection: Connection): void {
    if (this.#closed) return connection.destroy();
    connection.idleSince = Date.now();
    let idle = this.#idle.get(connection.url);
    if (!idle) this.#idle.set(connection.url, (idle = []));
    idle.push(connection);
  }

  /** A connection closed: no longer open, nor idle. */
  forget(connection: Connection): void {
    this.#open.set(connection.url, (this.#open.get(connection.url) ?? 1) - 1);
    const idle = this.#idle.get(connection.url);
    const at = idle?.indexOf(connection) ?? -1;
    if (at >= 0) idle!.splice(at, 1);
  }

  close(): void {
    this.#closed = true;
    for (const idle of this.#idle.values()) for (const c of [...idle]) c.destroy();
    this.#idle.clear();
  }
}

const enum Phase {
  Idle,
  Head,
  /** `remaining` bytes of a fixed-length body. */
  Fixed,
  ChunkSize,
  /** `remaining` bytes of a chunk, then its CRLF. */
  ChunkData,
  ChunkEnd,
  /** Trailer lines after the last chunk, up to an empty one. */
  Trailers,
  /** No length: the body ends when the peer closes. */
  UntilClose,
}

class Connection implements Exchange {
  readonly #socket: net.Socket;
  #sink: AnswerSink | undefined;
  #phase = Phase.Idle;
  #pending: Buffer | undefined;
  #remaining = 0;
  #answered = false;
  #reusable = true;
  /** A fixed-length answer held until whole. */
  #whole: { status: number; headers: http.OutgoingHttpHeaders; chunks: Buffer[] } | undefined;
  #gone = false;
  /** When it was last released (ms since the epoch). */
  idleSince = 0;

  constructor(
    readonly url: string,
    private readonly pool: PeerConnections,
  ) {
    const { hostname, port } = new URL(url);
    // Nagle off, as on the server side (TOOLCHAIN.md): the request goes out at once.
    this.#socket = net.connect({ host: hostname, port: Number(port || 80), noDelay: true });
    this.#socket.on("data", (chunk: Buffer) => this.#read(chunk));
    this.#socket.on("error", (e) => this.#lost(e));
    this.#socket.on("close", () => this.#lost(new Error("the connection closed")));
    // Idle connections must not keep a stopping process alive (a call in flight holds its caller's socket).
    this.#socket.unref();
  }

  send(head: string, body: Uint8Array, sink: AnswerSink): void {
    this.#sink = sink;
    this.#phase = Phase.Head;
    this.#answered = false;
    if (body.byteLength === 0) this.#socket.write(head, "latin1");
    else {
      this.#socket.cork();
      this.#socket.write(head, "latin1");
      this.#socket.write(body);
      this.#socket.uncork();
    }
  }

  cancel(): void {
    this.#sink = undefined;
    this.destroy();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #lost(e: Error): void {
    if (!this.#gone) {
      this.#gone = true;
      this.pool.forget(this);
    }
    const sink = this.#sink;
    this.#sink = undefined;
    if (!sink) return;
    if (this.#phase === Phase.UntilClose) return sink.end();
    sink.failed(e, this.#answered);
  }

  #read(chunk: Buffer): void {
    let buf = this.#pending ? Buffer.concat([this.#pending, chunk]) : chunk;
    this.#pending = undefined;
    while (buf.length > 0 && this.#sink) {
      switch (this.#phase) {
        case Phase.Head: {
          const end = buf.indexOf("\r\n\r\n");
          if (end < 0) return this.#keep(buf);
          this.#head(buf.toString("latin1", 0, end));
          buf = buf.subarray(end + 4);
          break;
        }
        case Phase.Fixed:
        case Phase.ChunkData:
        case Phase.UntilClose: {
          const take = this.#phase === Phase.UntilClose ? buf.length : Math.min(this.#remaining, buf.length);
          this.#body(buf.subarray(0, take));
          this.#remaining -= take;
          buf = buf.subarray(take);
          if (this.#phase === Phase.Fixed && this.#remaining === 0) this.#done();
          else if (this.#phase === Phase.ChunkData && this.#remaining === 0) this.#phase = Phase.ChunkEnd;
          break;
        }
        case Phase.ChunkSize:
        case Phase.ChunkEnd:
        case Phase.Trailers: {
          const end = buf.indexOf("\r\n");
          if (end < 0) return this.#keep(buf);
          const line = buf.toString("latin1", 0, end);
          buf = buf.subarray(end + 2);
          this.#line(line);
          break;
        }
        case Phase.Idle:
          break;
      }
    }
    // Bytes after the answer, which nobody asked for: this connection cannot be trusted again.
    if (buf.length > 0 && !this.#sink) this.destroy();
  }

  #keep(buf: Buffer): void {
    if (buf.length > MAX_HEAD_BYTES) return this.#fail(new Error("a peer's answer head is too long"));
    this.#pending = buf;
  }

  #head(text: string): void {
    const lines = text.split("\r\n");
    const statusLine = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0] ?? "");
    if (!statusLine) return this.#fail(new Error(`a peer answered something else than HTTP/1.1: ${JSON.stringify((lines[0] ?? "").slice(0, 40))}`));
    const status = Number(statusLine[2]);
    // An interim answer (100 Continue): the real one follows.
    if (status >= 100 && status < 200) return;
    this.#reusable = statusLine[1] === "1";
    const headers: http.OutgoingHttpHeaders = {};
    let length: number | undefined;
    let chunked = false;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(":");
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === "content-length") length = Number(value);
      if (name === "transfer-encoding") chunked = /chunked/i.test(value);
      if (name === "connection" && /close/i.test(value)) this.#reusable = false;
      if (HOP_BY_HOP.has(name)) continue;
      const before = headers[name];
      if (before === undefined) headers[name] = value;
      else if (name === "set-cookie") headers[name] = [...(Array.isArray(before) ? before : [String(before)]), value];
      else headers[name] = `${String(before)}, ${value}`;
    }
    if (chunked) {
      delete headers["content-length"];
      this.#phase = Phase.ChunkSize;
    } else if (length !== undefined && Number.isSafeInteger(length) && length >= 0) {
      this.#remaining = length;
      this.#phase = Phase.Fixed;
      if (length <= WHOLE_BYTES) {
        this.#whole = { status, headers, chunks: [] };
        if (length === 0) this.#done();
        return;
      }
    } else {
      this.#reusable = false;
      this.#phase = Phase.UntilClose;
    }
    this.#answered = true;
    this.#sink!.head(status, headers);
  }

  #line(line: string): void {
    if (this.#phase === Phase.ChunkEnd) {
      if (line !== "") return this.#fail(new Error("a peer's chunk did not end where it said"));
      this.#phase = Phase.ChunkSize;
    } else if (this.#phase === Phase.ChunkSize) {
      const size = parseInt(line, 16);
      if (!Number.isSafeInteger(size) || size < 0) return this.#fail(new Error("a peer sent a malformed chunk size"));
      this.#remaining = size;
      this.#phase = size === 0 ? Phase.Trailers : Phase.ChunkData;
    } else if (line === "") {
      this.#done();
    }
  }

  #body(chunk: Buffer): void {
    if (this.#whole) this.#whole.chunks.push(chunk);
    else this.#sink!.data(chunk);
  }

  #done(): void {
    const sink = this.#sink!;
    const whole = this.#whole;
    this.#sink = undefined;
    this.#whole = undefined;
    this.#phase = Phase.Idle;
    if (this.#reusable) this.pool.release(this);
    else this.destroy();
    this.#answered = true;
    if (whole) sink.head(whole.status, whole.headers, whole.chunks.length === 1 ? whole.chunks[0]! : Buffer.concat(whole.chunks));
    else sink.end();
  }

  #fail(e: Error): void {
    const sink = this.#sink;
    this.#sink = undefined;
    this.destroy();
    sink?.failed(e, this.#answered);
  }
}
