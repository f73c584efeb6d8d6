import cluster, { type Worker } from "node:cluster";
import { randomBytes } from "node:crypto";
import * as net from "node:net";
import type { Logger } from "../api/logger.js";
import { firstStopSignal } from "./stop-signal.js";

/** What a worker tells the supervisor over IPC once it serves. */
export interface WorkerReady {
  readonly cairn: "node-ready";
  readonly index: number;
  readonly url: string;
}

export interface SupervisorOptions {
  readonly nodes: number;
  readonly logger: Logger;
  /** Each worker's drain bound: the supervisor waits this long (and a grace) for them to stop. */
  readonly drainMs: number;
}

/** Restart backoff after a worker dies: doubles from MIN to MAX; reset once a worker has served STABLE_MS. */
const RESTART_MIN_MS = 100;
const RESTART_MAX_MS = 5_000;
const STABLE_MS = 10_000;
/** Beyond the drain bound, how long the supervisor waits for workers before SIGKILL. */
const STOP_GRACE_MS = 5_000;

/**
 * `run()` with M > 1 on one machine (DESIGN.md §9): forks M workers of this
 * same script with node:cluster, sharing the one public port; worker i is
 * node i (CAIRN_NODE_INDEX) with a private loopback peer port and the
 * cluster secret made here. A worker that dies is forked again, with
 * backoff. SIGTERM or SIGINT stops every worker (each drains) and resolves;
 * the caller exits 0. Logs `serving on URL` once all M serve.
 */
export async function supervise(options: SupervisorOptions): Promise<void> {
  const { nodes, logger } = options;
  // Each node's peer port is bound here and handed to its worker (PEER_PORT_HANDED): no other process can take it between.
  const reserved: Array<Promise<net.Server> | undefined> = Array.from({ length: nodes }, () => reserveLoopbackPort(0));
  const peerPorts = await Promise.all(reserved.map(async (server) => ((await server!).address() as net.AddressInfo).port));
  const env = {
    CAIRN_NODES: String(nodes),
    CAIRN_PEER_URLS: peerPorts.map((port) => `http://127.0.0.1:${port}`).join(","),
    CAIRN_PEER_HOST: "127.0.0.1",
    CAIRN_CLUSTER_SECRET: randomBytes(24).toString("base64url"),
    [PEER_PORT_HANDED]: "1",
  };
  /** Hands node `index`'s peer port to its worker, then closes this process's copy (only the worker accepts on it). */
  const handPeerPort = async (index: number, worker: Worker) => {
    const server = await (reserved[index] ??= reserveLoopbackPort(peerPorts[index]!));
    reserved[index] = undefined;
    worker.send({ cairn: "peer-port" } satisfies PeerPortMessage, server, () => server.close());
  };
  const workers = new Map<number, Worker>();
  const failures = new Array<number>(nodes).fill(0);
  let stopping = false;
  let announced = false;
  const ready = new Set<number>();

  const fork = (index: number) => {
    const worker = cluster.fork({ ...env, CAIRN_NODE_INDEX: String(index) });
    const forkedAt = Date.now();
    workers.set(index, worker);
    worker.on("message", (message: unknown) => {
      if (isPeerPortRequest(message)) {
        handPeerPort(index, worker).catch((e: unknown) => {
          logger.error(`node ${index}'s peer port ${peerPorts[index]} could not be bound again: ${e instanceof Error ? e.message : String(e)}`);
          worker.process.kill("SIGKILL");
        });
        return;
      }
      if (!isReady(message)) return;
      ready.add(index);
      if (!announced && ready.size === nodes) {
        announced = true;
        // Tools wait for this line, as for one process.
        logger.info(`${nodes} nodes ready`);
        logger.info(`serving on ${message.url}`);
      }
    });
    worker.once("exit", (code, signal) => {
      if (workers.get(index) === worker) workers.delete(index);
      if (stopping) return;
      // At once, not after the backoff: the dead worker's port is free again, for anyone.
      reserved[index] ??= reserveLoopbackPort(peerPorts[index]!);
      reserved[index].catch(() => {});
      if (!announced) {
        // A node that cannot start (a port in use, a bad option) will not start on a retry either.
        logger.error(`node ${index} exited before all nodes served (${signal ?? `code ${code}`}); stopping`);
        process.exitCode = 1;
        process.emit("SIGTERM", "SIGTERM");
        return;
      }
      failures[index] = Date.now() - forkedAt >= STABLE_MS ? 0 : failures[index]! + 1;
      const delay = Math.min(RESTART_MAX_MS, RESTART_MIN_MS * 2 ** Math.max(0, failures[index]! - 1));
      logger.warn(`node ${index} (pid ${worker.process.pid}) exited (${signal ?? `code ${code}`}); restarting in ${delay} ms`);
      setTimeout(() => stopping || fork(index), delay);
    });
  };
  for (let i = 0; i < nodes; i++) fork(i);

  const signal = await firstStopSignal();
  stopping = true;
  logger.info(`${signal}: stopping ${workers.size} nodes`);
  const running = [...workers.values()];
  const exits = running.map((w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once("exit", () => resolve()))));
  for (const w of running) w.process.kill("SIGTERM");
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), options.drainMs + STOP_GRACE_MS)));
  if ((await Promise.race([Promise.all(exits), late])) === "late") {
    for (const w of running) if (!w.isDead()) w.process.kill("SIGKILL");
    logger.warn("nodes still running after the drain bound were killed");
  }
  clearTimeout(timer);
  for (const server of reserved) void server?.then((s) => s.close(), () => {});
  logger.info("stopped");
}

/** Tells the supervisor, if this process is its worker, that node `index` serves: whether it told. */
export function reportReady(index: number | undefined, url: string): boolean {
  if (index === undefined || !cluster.isWorker || !process.send) return false;
  process.send({ cairn: "node-ready", index, url } satisfies WorkerReady);
  return true;
}

function isReady(message: unknown): message is WorkerReady {
  return typeof message === "object" && message !== null && (message as { cairn?: unknown }).cairn === "node-ready";
}

/** Set in a worker's environment: its peer port comes from the supervisor over IPC (`peerPortFromSupervisor`). */
const PEER_PORT_HANDED = "CAIRN_PEER_PORT_HANDED";

interface PeerPortMessage {
  readonly cairn: "peer-port" | "peer-port?";
}

function isPeerPortRequest(message: unknown): boolean {
  return typeof message === "object" && message !== null && (message as { cairn?: unknown }).cairn === "peer-port?";
}

/**
 * In a supervisor's worker: the listening peer port its supervisor bound
 * for it (undefined elsewhere: the node binds its peer URL's port itself).
 */
export function peerPortFromSupervisor(): Promise<net.Server> | undefined {
  if (!cluster.isWorker || !process.send || process.env[PEER_PORT_HANDED] !== "1") return undefined;
  return new Promise((resolve) => {
    const onMessage = (message: unknown, handle: unknown) => {
      if ((message as Partial<PeerPortMessage> | null)?.cairn !== "peer-port" || !(handle instanceof net.Server)) return;
      process.off("message", onMessage);
      resolve(handle);
    };
    process.on("message", onMessage);
    process.send!({ cairn: "peer-port?" } satisfies PeerPortMessage);
  });
}

/** A listening loopback server on `port` (0: a free one), held until handed to a worker. */
function reserveLoopbackPort(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    // Until handed over it accepts too: a peer asking that early is reset, and asks again.
    const server = net.createServer((socket) => socket.destroy());
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}
