// Nodes started as a StatefulSet starts its pods, as real processes on
// 127.0.0.1: pod i is `cairn-<i>` with CAIRN_NODES, CAIRN_PARTITIONS,
// CAIRN_PEER_URL with {i}, one shared secret and its own volume (a folder).
// Every pod has its own public port, so a test picks the node a call enters
// by; the peers share one port on 127.0.0.1<i> (10, 11, …): one port, many
// hosts, as pods have.
//
// Ports come from below the kernel's ephemeral range: a pod restarted later
// binds its peer port again, and a port the kernel handed out once (what
// `freePort` returns) may by then be the local end of some outgoing
// connection. A start that still meets EADDRINUSE is retried on new ports
// (slowly: the pods that did start wait at the first-start barrier for the
// one that failed until their ready deadline; the window is the moment
// between a port's check and its bind, so this is rare).
import { readFileSync } from "node:fs";
import * as net from "node:net";
import { nodeOfPartition, partitionOf } from "../../src/api/partition.js";
import { killHard, ServerProcesses, type ServerExit, type SpawnedServer, type SpawnServerOptions } from "./helpers.js";

export interface PodClusterOptions {
  readonly nodes: number;
  readonly partitions: number;
  /** The server script (test/fixtures/…), run with `--data-dir --port --host`. */
  readonly script: string;
  readonly secret: string;
  /** More variables for every pod (e.g. a fixture's clock). */
  readonly env?: Readonly<Record<string, string>>;
}

/** Attempts at a start on fresh ports before giving up. */
const PORT_ATTEMPTS = 5;
/** Below this the ports are commonly taken by well-known services. */
const LOWEST_PORT = 10_000;

/** The first port of the kernel's ephemeral range (Linux), 32768 when unknown. */
function ephemeralFloor(): number {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > LOWEST_PORT + 1_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

function canBind(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** A port below the ephemeral range that every one of `hosts` can bind now. */
export async function stablePort(hosts: readonly string[] = ["127.0.0.1"]): Promise<number> {
  const floor = ephemeralFloor();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOWEST_PORT + Math.floor(Math.random() * (floor - LOWEST_PORT));
    let free = true;
    for (const host of hosts) if (!(free = await canBind(port, host))) break;
    if (free) return port;
  }
  throw new Error(`no free port below ${floor} on ${hosts.join(", ")}`);
}

/** How many nodes and partitions a cluster has (pods or the supervisor's workers). */
export interface ClusterShape {
  readonly nodes: number;
  readonly partitions: number;
}

/** The node that owns the actor: its partition mod nodes. */
export function ownerOf(shape: ClusterShape, stateType: string, id: string): number {
  return nodeOfPartition(partitionOf(stateType, id, shape.partitions), shape.nodes);
}

/** Ids `prefix-n` until there are `count` owned by each node, by node. */
export function idsOnEachNode(shape: ClusterShape, prefix: string, count: number, stateType: string): string[][] {
  const byNode: string[][] = Array.from({ length: shape.nodes }, () => []);
  for (let n = 0; byNode.some((ids) => ids.length < count); n++) {
    const id = `${prefix}-${n}`;
    const ids = byNode[ownerOf(shape, stateType, id)]!;
    if (ids.length < count) ids.push(id);
  }
  return byNode;
}

const addressInUse = (e: unknown) => e instanceof Error && /EADDRINUSE/.test(e.message);

/** Pods of one cluster; ended by the ServerProcesses that started them. */
export class PodCluster implements ClusterShape {
  readonly pods: SpawnedServer[] = [];
  readonly #processes: ServerProcesses;
  readonly #options: PodClusterOptions;
  readonly #volumes: string[];
  #peerPort: number;

  private constructor(processes: ServerProcesses, options: PodClusterOptions, volumes: string[], peerPort: number) {
    this.#processes = processes;
    this.#options = options;
    this.#volumes = volumes;
    this.#peerPort = peerPort;
  }

  /** Starts every pod at once (as `podManagementPolicy: Parallel`: a first start waits for all), each on a fresh volume. */
  static async start(processes: ServerProcesses, options: PodClusterOptions): Promise<PodCluster> {
    const volumes = await Promise.all(Array.from({ length: options.nodes }, (_, i) => processes.tempDataDir(`cairn-pod-${i}-`)));
    for (let attempt = 1; ; attempt++) {
      const cluster = new PodCluster(processes, options, volumes, await stablePort(volumes.map((_, i) => peerHost(i))));
      const started = await Promise.allSettled(volumes.map((_, i) => cluster.#spawn(i)));
      const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
      if (!failed) {
        cluster.pods.push(...started.map((s) => (s as PromiseFulfilledResult<SpawnedServer>).value));
        return cluster;
      }
      for (const s of started) if (s.status === "fulfilled") await killHard(s.value);
      if (!addressInUse(failed.reason) || attempt >= PORT_ATTEMPTS) throw failed.reason;
      // A half-made first start: every volume fresh again, so the pods meet at the barrier anew.
      for (let i = 0; i < volumes.length; i++) volumes[i] = await processes.tempDataDir(`cairn-pod-${i}-`);
    }
  }

  get nodes(): number {
    return this.#options.nodes;
  }

  get partitions(): number {
    return this.#options.partitions;
  }

  /** Pod i's peer URL, as the others reach it. */
  peerUrl(i: number): string {
    return `http://${peerHost(i)}:${this.#peerPort}`;
  }

  /** The node that owns the actor. */
  ownerOf(stateType: string, id: string): number {
    return ownerOf(this, stateType, id);
  }

  /** Ids `prefix-n` until there are `count` owned by each node, by node. */
  idsOnEachNode(prefix: string, count: number, stateType: string): string[][] {
    return idsOnEachNode(this, prefix, count, stateType);
  }

  /** SIGKILLs pod i (its process only, by PID) and waits for its exit. */
  kill(i: number): Promise<ServerExit> {
    return killHard(this.pods[i]!);
  }

  /** Starts pod i again on its volume (a new public port; the same peer URL), once it has exited. */
  async restart(i: number): Promise<SpawnedServer> {
    if (!this.pods[i]!.hasExited) throw new Error(`pod ${i} (pid ${this.pods[i]!.pid}) is still running`);
    for (let attempt = 1; ; attempt++) {
      try {
        return (this.pods[i] = await this.#spawn(i));
      } catch (e) {
        // Only the public port is new: a peer port taken meanwhile fails every attempt alike.
        if (!addressInUse(e) || attempt >= PORT_ATTEMPTS) throw e;
      }
    }
  }

  async #spawn(i: number): Promise<SpawnedServer> {
    const options: SpawnServerOptions = {
      dataDir: this.#volumes[i]!,
      port: await stablePort(),
      script: this.#options.script,
      env: {
        CAIRN_NODES: String(this.nodes),
        CAIRN_PARTITIONS: String(this.partitions),
        CAIRN_POD_NAME: `cairn-${i}`,
        CAIRN_PEER_URL: `http://${peerHost("{i}")}:${this.#peerPort}`,
        // A pod binds 0.0.0.0 on its own IP; here the pods share a machine.
        CAIRN_PEER_HOST: peerHost(i),
        CAIRN_CLUSTER_SECRET: this.#options.secret,
        ...this.#options.env,
      },
    };
    return this.#processes.spawn(options);
  }
}

/** Pod i's own loopback address: 127.0.0.10, 127.0.0.11, … */
function peerHost(i: number | "{i}"): string {
  return `127.0.0.1${i}`;
}
