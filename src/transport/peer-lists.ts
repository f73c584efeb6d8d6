import * as net from "node:net";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { create } from "@bufbuild/protobuf";
import { ListTasksResponseSchema, Tasks, type ListTasksRequest, type ListTasksResponse } from "../../generated/cairn/v1/tasks_pb.js";
import { Actors, ListActorsResponseSchema, type ListActorsRequest, type ListActorsResponse } from "../../generated/cairn/v1/actors_pb.js";
import { Schedules, type ListSchedulesRequest, type ScheduleInfo } from "../../generated/cairn/v1/schedules_pb.js";
import { Admin, type BackupRequest, type ExportedActor } from "../../generated/cairn/v1/admin_pb.js";
import { PEER_HEADER } from "./forwarding.js";
import { compareIds, mergePages, mergeSortedPages } from "../runtime/tasks/id-order.js";
import { compareStrings, firstOfPages } from "../runtime/admin-queries.js";
import type { Subscribe } from "./when-stale.js";

interface Peer {
  readonly index: number;
  readonly url: string;
  readonly tasks: Client<typeof Tasks>;
  readonly schedules: Client<typeof Schedules>;
  readonly actors: Client<typeof Actors>;
  readonly admin: Client<typeof Admin>;
}

/**
 * Operator calls over every node (DESIGN.md §9): `Tasks.List`,
 * `Tasks.WatchList`, `Schedules.List` and `Actors.List` merged,
 * `Admin.Backup` and `Admin.Export` run on each node. The node a caller
 * reached asks each other node for its own (a call carrying the cluster
 * secret is answered from that node alone). A node that does not answer
 * fails the call with UNAVAILABLE naming it: a list or a backup with a
 * node missing would look complete.
 */
export class PeerLists {
  readonly #peers: Peer[];

  constructor(
    index: number,
    peerUrls: readonly string[],
    private readonly secret: string,
  ) {
    this.#peers = peerUrls.flatMap((url, i): Peer[] => {
      if (i === index) return [];
      const { hostname, port } = new URL(url);
      const transport = createGrpcTransport({
        baseUrl: url,
        nodeOptions: { createConnection: () => net.connect({ host: hostname, port: Number(port || 80), noDelay: true }) },
      });
      return [{ index: i, url, tasks: createClient(Tasks, transport), schedules: createClient(Schedules, transport), actors: createClient(Actors, transport), admin: createClient(Admin, transport) }];
    });
  }

  /** Whether a request came from a peer: it is answered from this node alone. */
  static fromPeer(header: Headers): boolean {
    return header.has(PEER_HEADER);
  }

  /** `local` and every other node's page of tasks for `req` as one page of at most `limit`, in listing order or newest first (id-order.ts). */
  async tasks(req: ListTasksRequest, header: Headers, local: ListTasksResponse, limit: number): Promise<ListTasksResponse> {
    const found = await this.#each(header, (peer, headers) => peer.tasks.list(req, { headers }));
    const pages = [local, ...found].map((page) => ({ items: page.tasks, next: page.nextPageToken }));
    const merged = mergePages(pages, (t) => t.taskId, limit, req.newestFirst);
    return create(ListTasksResponseSchema, { tasks: [...merged.items], nextPageToken: merged.next });
  }

  /** `local` and every other node's page of actor ids for `req` as one page of at most `limit`, in id order. */
  async actorIds(req: ListActorsRequest, header: Headers, local: ListActorsResponse, limit: number): Promise<ListActorsResponse> {
    const found = await this.#each(header, (peer, headers) => peer.actors.list(req, { headers }));
    const pages = [local, ...found].map((page) => ({ items: page.actorIds, next: page.nextPageToken }));
    // Each node stopped at its token (a full page, or its scan bound): nothing past the earliest is kept.
    const merged = mergeSortedPages(pages, (id) => id, limit, compareStrings);
    return create(ListActorsResponseSchema, { actorIds: [...merged.items], nextPageToken: merged.next });
  }

  /** `local` and every other node's page of schedules for `req`, in listing order, at most `req.limit` (0: all). */
  async schedules(req: ListSchedulesRequest, header: Headers, local: ScheduleInfo[]): Promise<ScheduleInfo[]> {
    const found = await this.#each(header, async (peer, headers) => (await peer.schedules.list(req, { headers })).schedules);
    const all = [...local, ...found.flat()].sort((a, b) => compareIds(a.scheduleId, b.scheduleId));
    return req.limit > 0 ? all.slice(0, req.limit) : all;
  }

  /**
   * `Tasks.WatchList` over every node: `subscribe` opens each other node's
   * own WatchList (with the cluster secret) and notifies on its pages and
   * on local changes; `page` merges the newest page of each with `local()`,
   * undefined until every node has sent its first. A peer's stream that
   * fails or ends makes `page` throw UNAVAILABLE naming the node: a watch
   * with a node missing would look complete.
   */
  taskWatch(req: ListTasksRequest, header: Headers, local: () => ListTasksResponse, localChanges: Subscribe, limit: number): { subscribe: Subscribe; page: () => ListTasksResponse | undefined } {
    const latest = new Map<number, ListTasksResponse>();
    let failed: ConnectError | undefined;
    const subscribe: Subscribe = (notify) => {
      const abort = new AbortController();
      const headers = this.#peerHeaders(header);
      for (const peer of this.#peers) {
        void (async () => {
          for await (const page of peer.tasks.watchList(req, { headers, signal: abort.signal })) {
            latest.set(peer.index, page);
            notify();
          }
          throw new ConnectError("its stream ended", Code.Unavailable);
        })().catch((e: unknown) => {
          if (abort.signal.aborted) return;
          failed ??= unavailable(peer, e);
          notify();
        });
      }
      const unsubscribe = localChanges(notify);
      return () => {
        abort.abort();
        unsubscribe();
      };
    };
    const page = () => {
      if (failed) throw failed;
      if (latest.size < this.#peers.length) return undefined;
      const pages = [local(), ...latest.values()].map((p) => ({ items: p.tasks, next: p.nextPageToken }));
      const merged = mergePages(pages, (t) => t.taskId, limit, req.newestFirst);
      return create(ListTasksResponseSchema, { tasks: [...merged.items], nextPageToken: merged.next });
    };
    return { subscribe, page };
  }

  /** `Admin.Backup` on every other node: each writes its own partitions (and layout record) to `req.destination` on its machine; their bytes. */
  async backups(req: BackupRequest, header: Headers): Promise<bigint> {
    const found = await this.#each(header, (peer, headers) => peer.admin.backup(req, { headers }));
    return found.reduce((sum, r) => sum + r.bytes, 0n);
  }

  /** `Admin.Export` of one state type on every other node, one node after another (flow control reaches each peer's stream). */
  async *exports(stateType: string, header: Headers, signal: AbortSignal): AsyncGenerator<ExportedActor, void, undefined> {
    const headers = this.#peerHeaders(header);
    for (const peer of this.#peers) {
      try {
        yield* peer.admin.export({ stateType }, { headers, signal });
      } catch (e) {
        throw unavailable(peer, e);
      }
    }
  }

  /** Asks every peer, with the caller's token and trace headers and the cluster secret. */
  #each<T>(header: Headers, ask: (peer: Peer, headers: Headers) => Promise<T>): Promise<T[]> {
    const headers = this.#peerHeaders(header);
    return Promise.all(
      this.#peers.map((peer) =>
        ask(peer, headers).catch((e: unknown) => {
          throw unavailable(peer, e);
        }),
      ),
    );
  }

  /** The caller's token and trace headers, and the cluster secret. */
  #peerHeaders(header: Headers): Headers {
    const headers = new Headers({ [PEER_HEADER]: this.secret });
    for (const name of ["authorization", "traceparent", "tracestate"]) {
      const value = header.get(name);
      if (value !== null) headers.set(name, value);
    }
    return headers;
  }
}

/** A peer's failure as the caller sees it: its own refusals as they are, anything else UNAVAILABLE naming the node. */
function unavailable(peer: Peer, e: unknown): ConnectError {
  const error = ConnectError.from(e);
  if (error.code !== Code.Unavailable && error.code !== Code.Unknown && error.code !== Code.Internal) return error;
  return new ConnectError(`node ${peer.index} (${peer.url}) is unavailable: ${error.rawMessage}`, Code.Unavailable);
}
