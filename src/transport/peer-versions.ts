import type * as http2 from "node:http2";
import { partitionOf } from "../api/partition.js";
import type { PeerSessions } from "./peer-sessions.js";
import { PEER_HEADER } from "./forwarding.js";
import { MAX_WATCHED, VERSIONS_PATH, type VersionChange, type VersionCommand } from "./version-stream.js";

/** What a watcher hears: a new durable version (0: deleted), or undefined when the stream broke (anything may have changed). */
export type OnVersion = (version: number | undefined, change?: VersionChange) => void;

/** How many actors one node watches one by one on another; past it, whole partitions (`PeerVersionsOptions.maxKeys`). */
export const DEFAULT_MAX_KEYS = 50_000;

export interface PeerVersionsOptions {
  /** N, the data directory's partition count: what a partition watch names. Default 1. */
  readonly partitions?: number;
  /**
   * Actors watched one by one per peer node (at most the owner's own bound,
   * MAX_WATCHED); the others are covered by watching their partitions.
   */
  readonly maxKeys?: number;
}

interface OpenStream {
  readonly stream: http2.ClientHttp2Stream;
  /** Everyone watching, by actor key, whether watched one by one or through its partition. */
  readonly watchers: Map<string, Set<OnVersion>>;
  /** Keys the owner watches one by one (at most `maxKeys`). */
  readonly keyed: Set<string>;
  /** Partitions the owner streams whole (at most N). */
  readonly partitions: Set<number>;
}

/**
 * The subscriber's side of the cross-node version stream: one stream per
 * owner node, on the pooled session to it, carrying every actor this node
 * watches there. A broken stream tells every watcher "maybe changed"
 * (they re-read) and is reopened, with its watches, on the next watch.
 *
 * The owner cuts a stream past MAX_WATCHED actors (its memory is bounded),
 * and waiters woken by a cut would watch again and be cut again. So past
 * `maxKeys` actors a watch asks for the actor's whole partition instead
 * (one entry there, whatever the number of actors) plus a one-off check of
 * the version read; lines for actors nobody here watches are dropped.
 */
export class PeerVersions {
  readonly #streams = new Map<number, OpenStream>();
  readonly #partitions: number;
  readonly #maxKeys: number;

  constructor(
    private readonly peerUrls: readonly string[],
    private readonly secret: string,
    private readonly sessions: PeerSessions,
    options: PeerVersionsOptions = {},
  ) {
    this.#partitions = options.partitions ?? 1;
    this.#maxKeys = Math.max(0, Math.min(options.maxKeys ?? DEFAULT_MAX_KEYS, MAX_WATCHED));
  }

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
      if (open.keyed.size < this.#maxKeys) {
        open.keyed.add(key);
        this.#send(open.stream, seen === undefined ? { watch: [stateType, actorId] } : { watch: [stateType, actorId], v: seen });
      } else {
        const partition = partitionOf(stateType, actorId, this.#partitions);
        if (!open.partitions.has(partition)) {
          open.partitions.add(partition);
          this.#send(open.stream, { partition, of: this.#partitions });
        }
        if (seen !== undefined) this.#send(open.stream, { check: [stateType, actorId], v: seen });
      }
    }
    set.add(onVersion);
    return () => {
      if (!set.delete(onVersion) || set.size > 0) return;
      open.watchers.delete(key);
      // A partition stays watched while its stream lives: at most N of them.
      if (open.keyed.delete(key) && !open.stream.closed) this.#send(open.stream, { unwatch: [stateType, actorId] });
    };
  }

  /** Actors watched one by one, and partitions watched whole, on the stream to `node` (for tests and gauges). */
  watching(node: number): { readonly keys: number; readonly partitions: number } {
    const open = this.#streams.get(node);
    return { keys: open?.keyed.size ?? 0, partitions: open?.partitions.size ?? 0 };
  }

  close(): void {
    for (const { stream } of this.#streams.values()) stream.close();
    this.#streams.clear();
  }

  #open(node: number): OpenStream {
    const existing = this.#streams.get(node);
    if (existing && !existing.stream.closed) return existing;
    const stream = this.sessions.session(this.peerUrls[node]!).request({ ":method": "POST", ":path": VERSIONS_PATH, [PEER_HEADER]: this.secret });
    const open: OpenStream = { stream, watchers: new Map(), keyed: new Set(), partitions: new Set() };
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
      open.keyed.clear();
      open.partitions.clear();
    };
    stream.once("close", broken);
    stream.on("error", () => {});
    return open;
  }

  #send(stream: http2.ClientHttp2Stream, command: VersionCommand): void {
    stream.write(`${JSON.stringify(command)}\n`);
  }
}
