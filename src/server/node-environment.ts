// The environment contract of a node (DESIGN.md §9): how a process learns
// how many nodes there are, which one it is, where its peers are and the
// secret they share. The one home of these variables; README "Running
// several processes" documents them.
//
//   CAIRN_NODES           M, when the `nodes` option does not say. Default 1.
//   CAIRN_NODE_INDEX      this process's node (0 … M-1); set by the supervisor.
//   CAIRN_POD_NAME        on Kubernetes: the pod name, whose trailing `-<n>` is
//                         the node index (HOSTNAME when unset), read only when
//                         CAIRN_PEER_URL is set.
//   CAIRN_PEER_URL        a peer's URL with `{i}` for its index, e.g.
//                         http://cairn-{i}.cairn-peers:9992. This node listens
//                         on its own URL's port.
//   CAIRN_PEER_URLS       every peer's URL, comma-separated in node order (the
//                         supervisor sets it: loopback ports); wins over CAIRN_PEER_URL.
//   CAIRN_PEER_HOST       the address the peer port binds. Default 0.0.0.0,
//                         127.0.0.1 under the supervisor.
//   CAIRN_CLUSTER_SECRET  shared by the nodes; node-to-node calls carry it.
//                         The supervisor generates one; required otherwise.
//   CAIRN_PEER_WATCH_KEYS internal (tests): how many of another node's actors
//                         this node watches one by one before it watches
//                         whole partitions there (peer-versions.ts). Default 50,000.

/** Who this process is among the nodes. */
export interface NodeIdentity {
  /** This node, 0 … nodes-1. */
  readonly index: number;
  readonly nodes: number;
  /** Each node's peer URL (base, no trailing slash), by index. */
  readonly peerUrls: readonly string[];
  /** Where this node's peer port listens. */
  readonly peerHost: string;
  readonly peerPort: number;
  readonly secret: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/** M: the option, else CAIRN_NODES, else 1. */
export function nodeCount(option: number | undefined, env: Env = process.env): number {
  const given = option ?? (env.CAIRN_NODES === undefined || env.CAIRN_NODES === "" ? 1 : Number(env.CAIRN_NODES));
  if (!Number.isInteger(given) || given < 1 || given > 1024) {
    throw new Error(`nodes must be an integer in 1..1024 (the nodes option or CAIRN_NODES), got ${option ?? JSON.stringify(env.CAIRN_NODES)}`);
  }
  return given;
}

/**
 * This process's node identity when M > 1 and the environment names the
 * node (a supervisor's worker, a StatefulSet pod); undefined when it names
 * none (M > 1: this process is the supervisor). A partial or bad contract
 * throws, saying which variable is wrong.
 */
export function nodeIdentity(nodes: number, env: Env = process.env): NodeIdentity | undefined {
  if (nodes === 1) return undefined;
  const index = nodeIndex(env);
  if (index === undefined) return undefined;
  if (index >= nodes) {
    // A `kubectl scale` past CAIRN_NODES: the new pod has no partitions to serve (DESIGN.md §13 rule 1).
    throw new Error(
      `node index ${index} is out of range for ${nodes} nodes (CAIRN_NODES): nodes are added only by moving partitions to them, ` +
        `see deploy/kubernetes/README.md "Changing the number of nodes"`,
    );
  }
  const peerUrls = peerUrlsOf(nodes, env);
  const secret = env.CAIRN_CLUSTER_SECRET ?? "";
  if (secret.length < 16) throw new Error("CAIRN_CLUSTER_SECRET must be set to the same secret (16 characters or more) on every node");
  const own = new URL(peerUrls[index]!);
  const peerPort = Number(own.port || (own.protocol === "https:" ? 443 : 80));
  return { index, nodes, peerUrls, peerHost: env.CAIRN_PEER_HOST || "0.0.0.0", peerPort, secret };
}

/** CAIRN_NODE_INDEX, else (with CAIRN_PEER_URL) the pod ordinal; undefined when neither says. */
function nodeIndex(env: Env): number | undefined {
  if (env.CAIRN_NODE_INDEX !== undefined && env.CAIRN_NODE_INDEX !== "") {
    const index = Number(env.CAIRN_NODE_INDEX);
    if (!Number.isInteger(index) || index < 0) throw new Error(`CAIRN_NODE_INDEX must be a node index (0, 1, …), got ${JSON.stringify(env.CAIRN_NODE_INDEX)}`);
    return index;
  }
  if (!env.CAIRN_PEER_URL && !env.CAIRN_PEER_URLS) return undefined;
  const pod = env.CAIRN_POD_NAME || env.HOSTNAME || "";
  const ordinal = /-(\d+)$/.exec(pod);
  if (!ordinal) throw new Error(`the node index comes from the pod name's trailing -<n> (CAIRN_POD_NAME or HOSTNAME), got ${JSON.stringify(pod)}`);
  return Number(ordinal[1]);
}

function peerUrlsOf(nodes: number, env: Env): string[] {
  let urls: string[];
  if (env.CAIRN_PEER_URLS) {
    urls = env.CAIRN_PEER_URLS.split(",").map((u) => u.trim());
    if (urls.length !== nodes) throw new Error(`CAIRN_PEER_URLS names ${urls.length} peers for ${nodes} nodes`);
  } else if (env.CAIRN_PEER_URL?.includes("{i}")) {
    urls = Array.from({ length: nodes }, (_, i) => env.CAIRN_PEER_URL!.replaceAll("{i}", String(i)));
  } else {
    throw new Error("CAIRN_PEER_URL must be set, with {i} for the node index (e.g. http://cairn-{i}.cairn-peers:9992)");
  }
  for (const url of urls) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new Error(`a peer URL is not a URL: ${JSON.stringify(url)}`);
    }
    if (parsed.protocol !== "http:") throw new Error(`peer URLs are cleartext HTTP/2 (http://…), got ${JSON.stringify(url)}`);
  }
  return urls.map((u) => u.replace(/\/+$/, ""));
}

/** CAIRN_PEER_WATCH_KEYS, if set: the cap of actors watched one by one per peer (internal, for tests). */
export function peerWatchKeys(env: Env = process.env): number | undefined {
  const given = env.CAIRN_PEER_WATCH_KEYS;
  if (given === undefined || given === "") return undefined;
  const n = Number(given);
  if (!Number.isInteger(n) || n < 0) throw new Error(`CAIRN_PEER_WATCH_KEYS must be an integer >= 0, got ${JSON.stringify(given)}`);
  return n;
}
