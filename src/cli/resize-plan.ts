import { nodeOfPartition } from "../api/partition.js";

// What `cairn resize` does to the volumes, decided before anything is
// touched (docs/DESIGN.md §13 "The supported resize"). Node i of M owns the
// partitions p with p mod M = i, each a folder `partitions/pNNNN` on node i's
// volume; a new M' gives some partitions a new owner, and their folders must
// move to its volume. Pure: the command (resize.ts) carries it out.

/** One partition folder that changes volume. */
export interface PartitionMove {
  readonly partition: number;
  /** The node (volume index) that holds it now. */
  readonly from: number;
  /** The node (volume index) that owns it after the resize. */
  readonly to: number;
}

export interface ResizePlan {
  /** N, unchanged by a resize. */
  readonly partitions: number;
  /** M: the nodes the volumes are laid out for now. */
  readonly from: number;
  /** M': the nodes they are laid out for after. */
  readonly to: number;
  /** How many volumes take part: max(M, M'), volume i being node i's. */
  readonly volumes: number;
  /** In partition order. */
  readonly moves: readonly PartitionMove[];
  /** The nodes whose layout record is (re)written with M': 0 … M'-1. */
  readonly recordsWritten: readonly number[];
  /** The nodes whose layout record goes (halving): M' … M-1, their volumes left empty. */
  readonly recordsRemoved: readonly number[];
}

const isPowerOfTwo = (n: number) => Number.isInteger(n) && n >= 1 && (n & (n - 1)) === 0;

/**
 * The moves from M to M' nodes over N partitions. M and M' must be powers of
 * two dividing N (deploy/kubernetes/README.md "Choosing partitions and
 * replicas"): then a factor of two moves half the partitions between pairs
 * of volumes. Throws a RangeError naming the rule otherwise.
 */
export function resizePlan(partitions: number, from: number, to: number): ResizePlan {
  if (!isPowerOfTwo(partitions)) throw new RangeError(`the partition count ${partitions} is not a power of two: a resize moves partitions by powers of two`);
  for (const [what, nodes] of [
    ["the current node count", from],
    ["the new node count", to],
  ] as const) {
    if (!isPowerOfTwo(nodes) || nodes > partitions) {
      throw new RangeError(`${what} ${nodes} must be a power of two dividing the partition count ${partitions}`);
    }
  }
  const moves: PartitionMove[] = [];
  for (let p = 0; p < partitions; p++) {
    const [was, will] = [nodeOfPartition(p, from), nodeOfPartition(p, to)];
    if (was !== will) moves.push({ partition: p, from: was, to: will });
  }
  const range = (start: number, end: number) => Array.from({ length: Math.max(0, end - start) }, (_, k) => start + k);
  return { partitions, from, to, volumes: Math.max(from, to), moves, recordsWritten: range(0, to), recordsRemoved: range(to, from) };
}

/** The plan as lines for `--dry-run` and the log, with each volume's folder. */
export function describePlan(plan: ResizePlan, volumes: readonly string[]): string[] {
  const where = (node: number) => `node ${node} (${volumes[node] ?? "?"})`;
  const lines = [`resize ${plan.partitions} partitions from ${plan.from} to ${plan.to} nodes over ${plan.volumes} volumes`];
  if (plan.moves.length === 0) lines.push("  no partition changes volume");
  for (const m of plan.moves) lines.push(`  move partition ${m.partition}: ${where(m.from)} -> ${where(m.to)}`);
  for (const n of plan.recordsWritten) lines.push(`  write the layout record of ${where(n)}: node ${n} of ${plan.to}`);
  for (const n of plan.recordsRemoved) lines.push(`  remove the layout record of ${where(n)}: its volume is no longer used`);
  return lines;
}
