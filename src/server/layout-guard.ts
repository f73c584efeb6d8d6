import { randomUUID } from "node:crypto";
import type { Logger } from "../api/logger.js";
import type { LayoutAnswer } from "../transport/peer-layout.js";
import { LAYOUT_PROCEDURE, LayoutDirectory, LayoutRefused, type NodeLayout } from "./node-layout.js";

// The scale-up guard (DESIGN.md §13 rules 1-3): a node starts only on a data
// directory laid out for it. A bare `kubectl scale` (new pods on empty
// volumes, or CAIRN_NODES changed under existing ones) must fail loudly,
// never create fresh partitions beside a cluster that holds the real ones.

export interface GuardOptions {
  /** This node's partitions and their folders. */
  readonly ownFolders: ReadonlyMap<number, string>;
  /** Each node's answer by index (this node's entry is ignored); an Error for a node that did not answer. */
  askPeers(): Promise<ReadonlyArray<LayoutAnswer | Error>>;
  readonly logger: Logger;
  /** Aborts the wait for peers (a stop during the first start). */
  readonly signal?: AbortSignal;
}

/** Between two rounds of questions while peers start; a log line at most every LOG_EVERY_MS. */
const RETRY_MS = 500;
const LOG_EVERY_MS = 10_000;

/**
 * Returns this node's layout, initialising its share of an empty directory
 * once every peer agrees (rule 3), or throws `LayoutRefused` naming the
 * procedure. An initialised directory is checked locally (rules 1 and 2):
 * a restart does not wait for peers.
 */
export async function guardLayout(dir: LayoutDirectory, o: GuardOptions): Promise<NodeLayout> {
  const records = await dir.records();
  for (const record of records) dir.refuseMismatch(record, record.index === dir.wanted.index);
  const own = records.find((r) => r.index === dir.wanted.index);
  if (own) {
    await dir.refuseMissingOrForeign(records, o.ownFolders);
    return own;
  }
  const stray = await dir.strayFiles(records);
  if (stray.length > 0) {
    throw new LayoutRefused(
      `${dir.dataDir} holds data but no layout record of node ${dir.wanted.index} (${stray.slice(0, 3).join(", ")}${stray.length > 3 ? ", …" : ""}): ` +
        `a node starts on its own volume or an empty one (a directory made before layout records: "cairn layout adopt" writes them), ${LAYOUT_PROCEDURE}`,
    );
  }
  return firstStart(dir, o);
}

/**
 * The first start's barrier: node 0 proposes a cluster id, the others adopt
 * it, and each node initialises once every peer answers that it waits with
 * that id or has initialised with it. Proposals are written to the volume
 * first, so a node restarted during the barrier proposes the same id. A
 * peer initialised with another id, or initialised while this node had
 * proposed nothing, means the cluster exists and this volume lost its data.
 */
async function firstStart(dir: LayoutDirectory, o: GuardOptions): Promise<NodeLayout> {
  const { index, nodes } = dir.wanted;
  let clusterId = await dir.pending();
  if (clusterId === undefined && index === 0) {
    clusterId = randomUUID();
    await dir.writePending(clusterId);
  }
  let logged = 0;
  for (;;) {
    if (o.signal?.aborted) throw new Error("stopped while waiting for the other nodes' first start");
    const answers = await o.askPeers();
    const waitingFor: string[] = [];
    for (let peer = 0; peer < nodes; peer++) {
      if (peer === index) continue;
      const answer = answers[peer];
      if (answer === undefined || answer instanceof Error) {
        waitingFor.push(`node ${peer} (${answer?.message ?? "no answer"})`);
        continue;
      }
      if (answer.state === "initialised") {
        dir.refuseMismatch(answer.layout, false);
        if (answer.layout.clusterId !== clusterId) {
          throw new LayoutRefused(
            `the cluster exists (node ${peer} holds its layout, cluster ${answer.layout.clusterId}) and this node's volume (${dir.dataDir}) is empty: ` +
              `restore its partitions from a backup, ${LAYOUT_PROCEDURE}`,
          );
        }
      } else if (answer.state === "pending") {
        if (clusterId === undefined && peer === 0) {
          clusterId = answer.clusterId;
          await dir.writePending(clusterId);
        }
        if (answer.clusterId !== clusterId) waitingFor.push(`node ${peer} (it waits to start cluster ${answer.clusterId})`);
      } else {
        waitingFor.push(`node ${peer} (its volume is empty; it has not started its first start yet)`);
      }
    }
    if (clusterId !== undefined && waitingFor.length === 0) return dir.initialise(clusterId, [...o.ownFolders.values()]);
    if (Date.now() - logged >= LOG_EVERY_MS) {
      logged = Date.now();
      o.logger.info(`first start of node ${index} of ${nodes} (${dir.dataDir} is empty): waiting for ${waitingFor.join(", ") || "node 0's cluster id"}`);
    }
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
}
