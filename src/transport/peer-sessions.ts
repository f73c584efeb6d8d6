import * as http2 from "node:http2";
import * as net from "node:net";

/**
 * One pooled HTTP/2 session per peer URL (DESIGN.md §9): every call
 * forwarded to a peer is a stream on it. A session that fails or closes is
 * dropped, and the next call opens a new one, so a restarted peer is
 * reached again without anyone noticing but the calls in flight.
 */
export class PeerSessions {
  readonly #sessions = new Map<string, http2.ClientHttp2Session>();
  #closed = false;

  /** The live session to `url`, opened if there is none. */
  session(url: string): http2.ClientHttp2Session {
    if (this.#closed) throw new Error("peer sessions are closed");
    const open = this.#sessions.get(url);
    if (open && !open.closed && !open.destroyed) return open;
    const { hostname, port } = new URL(url);
    // Nagle off, as on the server side (TOOLCHAIN.md): small frames go out at once.
    const session = http2.connect(url, { createConnection: () => net.connect({ host: hostname, port: Number(port || 80), noDelay: true }) });
    const forget = () => {
      if (this.#sessions.get(url) === session) this.#sessions.delete(url);
    };
    // An error also fails the session's streams, which report it to their callers.
    session.on("error", forget);
    session.once("close", forget);
    session.once("goaway", forget);
    // Idle sessions must not keep a stopping process alive.
    session.unref();
    this.#sessions.set(url, session);
    return session;
  }

  close(): void {
    this.#closed = true;
    for (const session of this.#sessions.values()) session.destroy();
    this.#sessions.clear();
  }
}

/** What a caller hears when a peer cannot be reached: the one wording, for forwarded calls and calls from handlers. */
export function nodeUnavailableMessage(node: number, url: string | undefined, cause: unknown): string {
  const why = cause instanceof Error ? cause.message : String(cause);
  return `node ${node} (${url}) is unavailable: ${why}`;
}
