import type { Logger } from "../api/logger.js";
import type { Runtime } from "../runtime/runtime.js";
import type { Store } from "../store/store.js";
import type { TaskQueries } from "../runtime/tasks/task-queries.js";
import { Code, ConnectError } from "@connectrpc/connect";
import { carriesSecret, PEER_HEADER, withForwarding, type NodeRouting } from "../transport/forwarding.js";
import { answerLayout, askLayout, LAYOUT_PATH, type LayoutAnswer } from "../transport/peer-layout.js";
import { answerError } from "../transport/protocol-error.js";
import { PeerSessions } from "../transport/peer-sessions.js";
import { PeerConnections } from "../transport/peer-connections.js";
import { PeerLists } from "../transport/peer-lists.js";
import { PeerVersions } from "../transport/peer-versions.js";
import { VERSIONS_PATH } from "../transport/version-stream.js";
import { PeerCalls } from "../transport/peer-calls.js";
import { peerCallAnswer, servePeerCall } from "../transport/peer-call-route.js";
import { PeerChannels } from "../transport/peer-channels.js";
import { PeerFrameServer, type FramedServing } from "../transport/peer-frame-server.js";
import { ParticipantNode } from "../runtime/participant-node.js";
import type { TwoPhaseBounds } from "../runtime/two-phase-bounds.js";
import { RemoteVersions } from "../transport/remote-versions.js";
import { Watchers } from "../runtime/watchers.js";
import { listen, type Listener, type NodeHandler } from "../transport/server.js";
import { nodeCount, nodeIdentity, peerWatchKeys, type NodeIdentity } from "./node-environment.js";
import { placementOf, type Placement } from "./placement.js";
import { guardLayout } from "./layout-guard.js";
import { peerPortFromSupervisor } from "./supervisor.js";
import { LayoutDirectory, type NodeLayout } from "./node-layout.js";

/**
 * This process as node i of M (DESIGN.md §9): its placement, the pooled
 * sessions to its peers, the forwarding in front of its handler, and its
 * private peer port. Absent (undefined) with one node: nothing of this
 * runs, and one process serves exactly as it always did.
 */
export class NodeServer {
  readonly #sessions = new PeerSessions();
  readonly #connections = new PeerConnections();
  /** Transaction calls to peers, framed on one socket each (peer-channels.ts). */
  readonly #channels: PeerChannels;
  /** The peer port's framed connections; they answer once `handler()` sets `#framed`. */
  readonly #frames: PeerFrameServer;
  #framed: FramedServing | undefined;
  #peerListener: Listener | undefined;
  #peerHandler: NodeHandler | undefined;
  /** Tasks.List and Schedules.List ask the other nodes through this. */
  readonly peerLists: PeerLists;
  /** Commits of actors other nodes own, as they land there (the cross-node version stream). */
  readonly versions: PeerVersions;
  /** The versions of other nodes' actors that waiters here read, kept while they wait. */
  readonly remoteVersions: RemoteVersions;
  /** The process's change notification: a commit here, or one streamed from the actor's owner, wakes its waiters. */
  readonly watchers: Watchers;
  /** What the runtime routes to partitions other nodes host: calls, spawns and task waits from handlers. */
  readonly calls: PeerCalls;
  #layout: LayoutDirectory | undefined;
  /** The transactions other nodes coordinate that reach actors here. */
  #participants: ParticipantNode | undefined;

  private constructor(
    readonly identity: NodeIdentity,
    readonly placement: Placement,
  ) {
    this.peerLists = new PeerLists(identity.index, identity.peerUrls, identity.secret);
    this.versions = new PeerVersions(identity.peerUrls, identity.secret, this.#sessions, { partitions: placement.partitions, maxKeys: peerWatchKeys() });
    this.remoteVersions = new RemoteVersions(identity.index, placement.ownerOf, this.versions);
    this.watchers = new Watchers(this.remoteVersions);
    this.remoteVersions.bind(this.watchers);
    const cluster = { index: identity.index, peerUrls: identity.peerUrls, secret: identity.secret, nodeOfPartition: placement.nodeOfPartition };
    this.#channels = new PeerChannels(identity.secret);
    this.#frames = new PeerFrameServer(identity.secret, () => this.#framed);
    this.calls = new PeerCalls(cluster, this.#sessions, this.remoteVersions, this.#connections, this.#channels);
  }

  /**
   * The node this process is, from the `nodes` option and the environment
   * (node-environment.ts); undefined with one node. With M > 1 and no node
   * identity, only `run()` can start: it supervises the nodes.
   */
  static of(nodesOption: number | undefined, partitions: number): NodeServer | undefined {
    const nodes = nodeCount(nodesOption);
    if (nodes === 1) return undefined;
    const identity = nodeIdentity(nodes);
    if (!identity) {
      throw new Error(`with ${nodes} nodes, run() starts them (a supervisor forks one worker per node); start() needs CAIRN_NODE_INDEX or a pod name and CAIRN_PEER_URL`);
    }
    return new NodeServer(identity, placementOf(identity.index, nodes, partitions));
  }

  /** The public handler: forwards calls other nodes own, serves the rest with `served`. */
  handler(runtime: Runtime, tasks: TaskQueries, stores: readonly Store[], maxBytes: number, served: NodeHandler, twoPhase?: Partial<TwoPhaseBounds>): NodeHandler {
    const { identity, placement } = this;
    const participants = (this.#participants = new ParticipantNode(runtime, placement.hosted, twoPhase));
    const routing: NodeRouting = {
      index: identity.index,
      peerUrls: identity.peerUrls,
      secret: identity.secret,
      ownerOf: placement.ownerOf,
      nodeOfPartition: placement.nodeOfPartition,
      holds: (kind, id) => (kind === "task" ? tasks.get(id) !== undefined : stores.some((store) => store.getSchedule(id) !== undefined)),
      durableVersion: (stateType, actorId) => runtime.durableVersion(Watchers.key(stateType, actorId)),
      servePeerCall: (req, res) => servePeerCall(runtime, participants, maxBytes, req, res),
    };
    this.#framed = { maxBytes, answer: (op, body, signal) => peerCallAnswer(runtime, participants, op, body, signal) };
    const stateTypes = new Map(runtime.specs.map((spec) => [spec.service.typeName, spec.typeName]));
    this.#peerHandler = withForwarding(routing, this.#sessions, { maxBytes, stateTypes, peerPort: true }, served);
    return withForwarding(routing, this.#sessions, { maxBytes, stateTypes, peerPort: false, connections: this.#connections }, served);
  }

  /**
   * Opens the private peer port, then checks this node's data directory
   * against the environment and, on a first start, waits for every peer
   * (layout-guard.ts): the port answers peers' layout questions from the
   * start, and other calls UNAVAILABLE until `handler()` is built.
   * `folderOf` is where partition p lives. Throws `LayoutRefused` on a
   * directory laid out for another cluster shape.
   */
  async prepare(dataDir: string, folderOf: (partition: number) => string, logger: Logger, signal?: AbortSignal): Promise<NodeLayout> {
    const { index, nodes, peerHost, peerPort, peerUrls, secret } = this.identity;
    const layout = (this.#layout = new LayoutDirectory(dataDir, { partitions: this.placement.partitions, nodes, index }));
    const starting = new ConnectError(`node ${index} is starting`, Code.Unavailable);
    const handler: NodeHandler = (req, res) => {
      if (this.#peerHandler && req.url !== LAYOUT_PATH) return this.#peerHandler(req, res);
      if (!carriesSecret(req, secret)) return answerError(req, res, new ConnectError("this port serves only the cluster's nodes", Code.PermissionDenied));
      if (req.url === LAYOUT_PATH) return answerLayout(res, () => layout.answer());
      answerError(req, res, starting);
    };
    // The version stream answers while its request goes on: no early answer to hold (server.ts).
    this.#peerListener = await listen(handler, peerHost, (await peerPortFromSupervisor()) ?? peerPort, undefined, new Set([VERSIONS_PATH]), undefined, this.#frames);
    const ask = (url: string, i: number): Promise<LayoutAnswer | Error> =>
      i === index ? Promise.resolve(new Error("self")) : askLayout(this.#sessions, url, secret, PEER_HEADER).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
    const ownFolders = new Map(this.placement.hosted.map((p) => [p, folderOf(p)]));
    return guardLayout(layout, { ownFolders, askPeers: () => Promise.all(peerUrls.map(ask)), logger, signal });
  }

  /** Writes this node's layout record into a backup at `destination` (after its partitions). */
  copyLayout(destination: string): Promise<void> {
    if (!this.#layout) throw new Error("prepare() first");
    return this.#layout.copyTo(destination);
  }

  /** Says that this node serves, once the public port listens. */
  announce(logger: Logger): void {
    const { index, nodes, peerHost } = this.identity;
    logger.info(`node ${index} of ${nodes} (pid ${process.pid}): partitions ${this.placement.hosted.join(", ")} of ${this.placement.partitions}, peers call it on ${peerHost}:${this.#peerListener?.port}`);
  }

  /** Closes the peer port (after up to `graceMs` for answers going out) and the sessions to peers. */
  async close(graceMs: number): Promise<void> {
    await this.#peerListener?.close(graceMs);
    this.#participants?.stop();
    this.#peerListener = undefined;
    this.versions.close();
    this.#sessions.close();
    this.#connections.close();
    this.#channels.close();
  }
}
