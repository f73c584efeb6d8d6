import type { Logger } from "../api/logger.js";
import type { Runtime } from "../runtime/runtime.js";
import type { Store } from "../store/store.js";
import type { TaskQueries } from "../runtime/tasks/task-queries.js";
import { withForwarding, type NodeRouting } from "../transport/forwarding.js";
import { PeerSessions } from "../transport/peer-sessions.js";
import { PeerConnections } from "../transport/peer-connections.js";
import { PeerLists } from "../transport/peer-lists.js";
import { PeerVersions } from "../transport/peer-versions.js";
import { VERSIONS_PATH } from "../transport/version-stream.js";
import { listen, type Listener, type NodeHandler } from "../transport/server.js";
import { nodeCount, nodeIdentity, type NodeIdentity } from "./node-environment.js";
import { placementOf, type Placement } from "./placement.js";

/**
 * This process as node i of M (DESIGN.md §9): its placement, the pooled
 * sessions to its peers, the forwarding in front of its handler, and its
 * private peer port. Absent (undefined) with one node: nothing of this
 * runs, and one process serves exactly as it always did.
 */
export class NodeServer {
  readonly #sessions = new PeerSessions();
  readonly #connections = new PeerConnections();
  #peerListener: Listener | undefined;
  #peerHandler: NodeHandler | undefined;
  /** Tasks.List and Schedules.List ask the other nodes through this. */
  readonly peerLists: PeerLists;
  /** Commits of actors other nodes own, as they land there (the cross-node version stream). */
  readonly versions: PeerVersions;

  private constructor(
    readonly identity: NodeIdentity,
    readonly placement: Placement,
  ) {
    this.peerLists = new PeerLists(identity.index, identity.peerUrls, identity.secret);
    this.versions = new PeerVersions(identity.peerUrls, identity.secret, this.#sessions);
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
  handler(runtime: Runtime, tasks: TaskQueries, stores: readonly Store[], maxBytes: number, served: NodeHandler): NodeHandler {
    const { identity, placement } = this;
    const routing: NodeRouting = {
      index: identity.index,
      peerUrls: identity.peerUrls,
      secret: identity.secret,
      ownerOf: placement.ownerOf,
      nodeOfPartition: placement.nodeOfPartition,
      holds: (kind, id) => (kind === "task" ? tasks.get(id) !== undefined : stores.some((store) => store.getSchedule(id) !== undefined)),
    };
    const stateTypes = new Map(runtime.specs.map((spec) => [spec.service.typeName, spec.typeName]));
    this.#peerHandler = withForwarding(routing, this.#sessions, { maxBytes, stateTypes, peerPort: true }, served);
    return withForwarding(routing, this.#sessions, { maxBytes, stateTypes, peerPort: false, connections: this.#connections }, served);
  }

  /** Opens the private peer port (cleartext HTTP/2: node-to-node traffic stays inside the cluster's network). */
  async listen(logger: Logger): Promise<void> {
    if (!this.#peerHandler) throw new Error("handler() first");
    const { index, nodes, peerHost, peerPort } = this.identity;
    // The version stream answers while its request goes on: no early answer to hold (server.ts).
    this.#peerListener = await listen(this.#peerHandler, peerHost, peerPort, undefined, new Set([VERSIONS_PATH]));
    logger.info(`node ${index} of ${nodes} (pid ${process.pid}): partitions ${this.placement.hosted.join(", ")} of ${this.placement.partitions}, peers call it on ${peerHost}:${this.#peerListener.port}`);
  }

  /** Closes the peer port (after up to `graceMs` for answers going out) and the sessions to peers. */
  async close(graceMs: number): Promise<void> {
    await this.#peerListener?.close(graceMs);
    this.#peerListener = undefined;
    this.versions.close();
    this.#sessions.close();
    this.#connections.close();
  }
}
