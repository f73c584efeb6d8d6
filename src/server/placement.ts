import { nodeOfPartition, partitionOf } from "../api/partition.js";

/** Which partitions a node hosts and who owns an actor. */
export interface Placement {
  /** N: the data directory's partition count. */
  readonly partitions: number;
  /** The partitions this node opens: p with p mod M = i. */
  readonly hosted: readonly number[];
  /** The node that owns the actor `actorId` of `stateType`. */
  ownerOf(stateType: string, actorId: string): number;
  /** The node that hosts `partition` (from a marked task or schedule id). */
  nodeOfPartition(partition: number): number;
}

/**
 * The one place that decides placement for a node (DESIGN.md §9): node i of
 * M hosts the partitions p of N with p mod M = i, each in its folder of the
 * data directory (`<dataDir>/partitions/pNNNN`: on one machine the nodes
 * share the directory, each opening its own partitions; on Kubernetes each
 * pod's volume holds its own). N must be a multiple of M, so every node
 * hosts the same number of partitions.
 */
export function placementOf(index: number, nodes: number, partitions: number): Placement {
  if (partitions < nodes || partitions % nodes !== 0) {
    throw new RangeError(`${partitions} partitions cannot be spread evenly over ${nodes} nodes: the partition count must be a multiple of the node count`);
  }
  return {
    partitions,
    hosted: Array.from({ length: partitions / nodes }, (_, k) => index + k * nodes),
    ownerOf: (stateType, actorId) => nodeOfPartition(partitionOf(stateType, actorId, partitions), nodes),
    nodeOfPartition: (partition) => nodeOfPartition(partition, nodes),
  };
}
