import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { PartitionCountMismatch } from "../store/ownership.js";

// Where a data directory's partitions live (DESIGN.md §9). One partition is
// today's layout: the data directory is the LMDB environment. Several are
// `<dataDir>/partitions/p0000 … p{N-1}`, each an LMDB environment that
// records N (ownership.ts) so a later open with another count is refused.

/** The partition count: the option, else CAIRN_PARTITIONS, else `fallback` (1; the node count with several nodes). */
export function partitionCount(option: number | undefined, env = process.env, fallback = 1): number {
  const given = option ?? (env.CAIRN_PARTITIONS === undefined || env.CAIRN_PARTITIONS === "" ? fallback : Number(env.CAIRN_PARTITIONS));
  if (!Number.isInteger(given) || given < 1 || given > MAX_PARTITIONS) {
    const from = option === undefined ? `CAIRN_PARTITIONS=${JSON.stringify(env.CAIRN_PARTITIONS)}` : `partitions: ${String(option)}`;
    throw new RangeError(`${from}: the partition count must be a whole number from 1 to ${MAX_PARTITIONS}`);
  }
  return given;
}

/** Partition marks in ids have at most five digits (src/api/partition.ts); far fewer are useful. */
const MAX_PARTITIONS = 4096;

/** The folder of each partition, in partition order; refuses a directory laid out for another count, or in the middle of a resize. */
export function partitionDirs(dataDir: string, count: number): string[] {
  refuseUnfinishedResize(dataDir);
  const nested = join(dataDir, "partitions");
  if (count === 1) {
    if (existsSync(nested)) throw new PartitionCountMismatch(dataDir, partitionFolders(nested), 1);
    return [dataDir];
  }
  if (existsSync(join(dataDir, "data.mdb"))) throw new PartitionCountMismatch(dataDir, 1, count);
  return Array.from({ length: count }, (_, p) => join(nested, partitionFolderName(p)));
}

/** A resize stopped half-way: partitions may be on both volumes or on neither yet. */
export class ResizeUnfinished extends Error {
  override readonly name = "ResizeUnfinished";
}

/**
 * `cairn resize` (src/cli/resize.ts) keeps its journal `layout/resize.json`
 * on every volume it changes until it is done: no node, with one node or
 * several, starts on a half-moved cluster.
 */
function refuseUnfinishedResize(dataDir: string): void {
  const journal = join(dataDir, "layout", "resize.json");
  if (existsSync(journal)) {
    throw new ResizeUnfinished(
      `${dataDir} is in the middle of a resize (${journal}): run the same "cairn resize" again to finish it, see deploy/kubernetes/README.md "Changing the number of nodes"`,
    );
  }
}

/** `p0003`: sorts in partition order for up to 10,000 partitions. */
export function partitionFolderName(partition: number): string {
  return `p${String(partition).padStart(4, "0")}`;
}

/** How many partition folders a directory holds: the count it was created with. */
function partitionFolders(nested: string): number {
  return readdirSync(nested).filter((name) => /^p\d{4,}$/.test(name)).length;
}
