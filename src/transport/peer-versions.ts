import type * as http2 from "node:http2";
import type { PeerSessions } from "./peer-sessions.js";
import { PEER_HEADER } from "./forwarding.js";
import { VERSIONS_PATH, type VersionChange, type VersionCommand } from "./version-stream.js";

/** What a watcher hears: a new durable version, or undefined when the stream broke (anything may have changed). */
export type OnVersion = (version: number | undefined, change?: VersionChange) => void;

/**
 * The subscriber's side of the cross-node version stream: one stream per
 * owner node, on the pooled session to it, carrying every actor this node
 * watches there. A broken stream tells every watcher "maybe changed"
 * (they re-read) and is reopened, with its watches, on the next watch.
 */
export class PeerVersions {
  readonly #streams = new Map<number, { stream: http2.ClientHttp2Stream; watchers: Map<string, Set<OnVersion>> }>();

  constructor(
    private readonly peerUrls: readonly string[],
    private readonly secret: string,
    private readonly sessions: PeerSessions,
  ) {}

  /**
   * Calls `onVersion` for each commit of the actor on `node` until the
   * returned function is called; with `seen` (the version the caller read),
   * at once too if the owner already has another.
   */
  watch(node: number, stateType: string, actorId: string, onVersion: OnVersion, seen?: number): () => void {
    const open = this.#open(node);
    const key = `${stateType}\u0000${actorId}`;
    let set = open.watchers.get(key);
    if (!set) {
      open.watchers.set(key, (set = new Set()));
      this.#send(open.stream, seen === undefined ? { watch: [stateType, actorId] } : { watch: [stateType, actorId], v: seen });
    }
    set.add(onVersion);
    return () => {
      if (!set.delete(onVersion) || set.size > 0) return;
      open.watchers.delete(key);
      if (!open.stream.closed) this.#send(open.stream, { unwatch: [stateType, actorId] });
    };
  }

  close(): void {
    for (const { stream } of this.#streams.values()) stream.close();
    this.#streams.clear();
  }

  #open(node: number) {
    const existing = this.#streams.get(node);
    if (existing && !existing.stream.closed) return existing;
    const stream = this.sessions.session(this.peerUrls[node]!).request({ ":method": "POST", ":path": VERSIONS_PATH, [PEER_HEADER]: this.secret });
    const open = { stream, watchers: new Map<string, Set<OnVersion>>() };
    this.#streams.set(node, open);
    let pending = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        let change: VersionChange;
        try {
          change = JSON.parse(pending.slice(0, nl)) as VersionChange;
        } catch {
          // Not a peer speaking this protocol: the stream is useless, and closing it tells the watchers.
          return stream.close();
        }
        pending = pending.slice(nl + 1);
        for (const onVersion of open.watchers.get(`${change.t}\u0000${change.a}`) ?? []) onVersion(change.v, change);
      }
    });
    const broken = () => {
      if (this.#streams.get(node) === open) this.#streams.delete(node);
      for (const set of open.watchers.values()) for (const onVersion of set) onVersion(undefined);
      open.watchers.clear();
    };
    stream.once("close", broken);
    stream.on("error", () => {});
    return open;
  }

  #send(stream: http2.ClientHttp2Stream, command: VersionCommand): void {
    stream.write(`${JSON.stringify(command)}\n`);
  }
}
