import * as path from "node:path";
import { nodeOfPartition, partitionOf } from "../api/partition.js";

/** Which partitions a node hosts, where its data lives, and who owns an actor. */
export interface Placement {
  /** This node's LMDB folder. */
  readonly dataDir: string;
  /** The node that owns the actor `actorId` of `stateType`. */
  ownerOf(stateType: string, actorId: string): number;
  /** The node that hosts `partition` (from a marked task or schedule id). */
  nodeOfPartition(partition: number): number;
}

/**
 * The one place that decides placement for a node (DESIGN.md §9). Today a
 * node's data directory holds one partition: node i hosts exactly partition
 * i of N = M, in `<dataDir>/node-<i>`. With partitions inside a process, N
 * comes from the data directory and node i hosts the partitions p with
 * p mod M = i: only this function changes.
 */
export function placementOf(index: number, nodes: number, dataDir: string): Placement {
  const partitions = nodes;
  return {
    dataDir: path.join(dataDir, `node-${index}`),
    ownerOf: (stateType, actorId) => nodeOfPartition(partitionOf(stateType, actorId, partitions), nodes),
    nodeOfPartition: (partition) => nodeOfPartition(partition, nodes),
  };
}
