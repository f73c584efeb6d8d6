import { subscribe, unsubscribe } from "node:diagnostics_channel";
import type * as http from "node:http";
import type * as http2 from "node:http2";
import { partitionOf } from "../api/partition.js";
import { COMMIT_CHANNEL, DELETION_CHANNEL, type CommitMessage, type DeletionMessage } from "../runtime/commit-channel.js";

/** The peer-port route of the version-change stream (node-to-node only: the forwarding layer checks the secret). */
export const VERSIONS_PATH = "/_cairn/peer/versions";

/**
 * A subscriber's command, one JSON line each on the request body: watch an
 * actor (with the version it read: answered at once if stale), stop, or,
 * past its cap of actors (peer-versions.ts), watch a whole partition `p`
 * of `of` and `check` an actor read there once, without holding it here.
 */
export type VersionCommand =
  | { readonly watch: readonly [string, string]; readonly v?: number }
  | { readonly unwatch: readonly [string, string] }
  | { readonly partition: number; readonly of: number }
  | { readonly check: readonly [string, string]; readonly v: number };
/** A commit of a watched actor (version 0: deleted), one JSON line each on the answer: type, id, version, commit time (epoch ms, fractional). */
export interface VersionChange {
  readonly t: string;
  readonly a: string;
  readonly v: number;
  readonly at: number;
}

/**
 * Most actors one stream may watch: a subscriber cannot make the owner hold
 * memory without bound. Ours stay below it (they watch whole partitions
 * beyond their own cap); one that goes past is cut.
 */
export const MAX_WATCHED = 100_000;
/** Most partitions a data directory has (a task id's mark has at most 5 digits). */
const MAX_PARTITIONS = 99_999;
/** Longest command line read. */
const MAX_LINE = 4_096;
/** Unsent bytes a subscriber that does not read may leave here before its stream is cut (it then re-reads everything it watched). */
const MAX_UNSENT_BYTES = 1024 * 1024;

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

/**
 * The owner's side of the cross-node version stream (DESIGN.md §9): a peer
 * whose reactive readers or `until`s read actors this node owns sends the
 * actors to watch on one long request, and gets a line for each durable
 * commit or deletion of them, fed by the commit and deletion channels, as
 * it lands; past its own cap it watches whole partitions. The stream ends
 * when either side closes it; the subscriber then treats every watched
 * actor as changed (peer-versions.ts).
 */
export function serveVersionStream(req: Request, res: Response, durableVersion?: (stateType: string, actorId: string) => number): void {
  const watched = new Set<string>();
  /** Whole partitions watched (at most `of` of them), and `of`. */
  const partitions = new Set<number>();
  let of = 0;
  const key = (t: string, a: string) => `${t}\u0000${a}`;
  const wanted = (t: string, a: string) => watched.has(key(t, a)) || (partitions.size > 0 && partitions.has(partitionOf(t, a, of)));
  const send = (t: string, a: string, v: number) => {
    if (res.writableLength > MAX_UNSENT_BYTES) return res.destroy();
    (res as http.ServerResponse).write(`${JSON.stringify({ t, a, v, at: performance.timeOrigin + performance.now() } satisfies VersionChange)}\n`);
  };
  const onCommit = (m: unknown) => {
    const c = m as CommitMessage;
    if (wanted(c.stateType, c.actorId)) send(c.stateType, c.actorId, c.version);
  };
  const onDeletion = (m: unknown) => {
    const d = m as DeletionMessage;
    if (wanted(d.stateType, d.actorId)) send(d.stateType, d.actorId, 0);
  };
  res.writeHead(200, { "content-type": "application/x-ndjson" });
  // Headers out now: the subscriber knows the stream is open before any commit.
  (res as http.ServerResponse).flushHeaders?.();
  subscribe(COMMIT_CHANNEL, onCommit);
  subscribe(DELETION_CHANNEL, onDeletion);
  let pending = "";
  req.setEncoding("utf8");
  req.on("data", (chunk: string) => {
    pending += chunk;
    if (pending.length > MAX_LINE && !pending.includes("\n")) return res.destroy();
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      let command: VersionCommand;
      try {
        command = JSON.parse(line) as VersionCommand;
      } catch {
        return res.destroy();
      }
      // A peer holds the secret, but a bad line must not throw in this handler.
      if (typeof command !== "object" || command === null) return res.destroy();
      if ("watch" in command) {
        if (!Array.isArray(command.watch)) return res.destroy();
        if (watched.size >= MAX_WATCHED) return res.destroy();
        const [t, a] = command.watch;
        if (typeof t !== "string" || typeof a !== "string") return res.destroy();
        watched.add(key(t, a));
        // Subscribed before this check: a commit after the subscriber's read is either seen here or streamed.
        const now = typeof command.v === "number" ? durableVersion?.(t, a) : undefined;
        if (now !== undefined && now !== command.v) send(t, a, now);
      } else if ("unwatch" in command && Array.isArray(command.unwatch)) {
        watched.delete(key(String(command.unwatch[0]), String(command.unwatch[1])));
      } else if ("partition" in command) {
        const { partition: p, of: n } = command;
        // One partition count per stream: the set stays within it.
        if (!Number.isInteger(n) || n < 1 || n > MAX_PARTITIONS || (of !== 0 && n !== of)) return res.destroy();
        if (!Number.isInteger(p) || p < 0 || p >= n) return res.destroy();
        of = n;
        partitions.add(p);
      } else if ("check" in command) {
        if (!Array.isArray(command.check) || typeof command.v !== "number") return res.destroy();
        const [t, a] = command.check;
        if (typeof t !== "string" || typeof a !== "string") return res.destroy();
        // The partition's watch came first: a commit after this check is streamed.
        const now = durableVersion?.(t, a);
        if (now !== undefined && now !== command.v) send(t, a, now);
      }
    }
  });
  const end = () => {
    unsubscribe(COMMIT_CHANNEL, onCommit);
    unsubscribe(DELETION_CHANNEL, onDeletion);
    if (!res.writableEnded) res.end();
  };
  req.once("end", end);
  res.once("close", end);
}
