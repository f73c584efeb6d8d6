import type { Database, RootDatabase } from "lmdb";
import { StoreFault } from "./store.js";

// A partition's directory names its owner by an epoch (DESIGN.md §9): each
// open takes the next one, durably, and every commit checks inside its LMDB
// write transaction that it is still the newest. LMDB serializes write
// transactions across processes, so a stale owner (a process that was
// paused, a volume mounted twice) can never commit after a newer one opened.

const EPOCH_KEY = "owner-epoch";
const PARTITIONS_KEY = "partitions";

/** The partition count a data directory was created with, and a mismatch's refusal. */
export class PartitionCountMismatch extends Error {
  override readonly name = "PartitionCountMismatch";
  constructor(
    readonly path: string,
    readonly recorded: number,
    readonly requested: number,
  ) {
    super(
      `${path} was created with ${recorded} partition${recorded === 1 ? "" : "s"} and is opened with ${requested}: ` +
        `the partition count is fixed when a data directory is created (set partitions / CAIRN_PARTITIONS to ${recorded})`,
    );
  }
}

/**
 * Opens the directory for a new owner, in one durable write: records the
 * partition count on first open (refusing another one later), and takes
 * the next ownership epoch. Returns the epoch.
 */
export function takeOwnership(root: RootDatabase, meta: Database<number, string>, path: string, partitions: number | undefined): number {
  return root.transactionSync(() => {
    if (partitions !== undefined) {
      const recorded = meta.get(PARTITIONS_KEY);
      if (recorded !== undefined && recorded !== partitions) throw new PartitionCountMismatch(path, recorded, partitions);
      if (recorded === undefined) meta.put(PARTITIONS_KEY, partitions);
    }
    const epoch = (meta.get(EPOCH_KEY) ?? 0) + 1;
    meta.put(EPOCH_KEY, epoch);
    return epoch;
  });
}

/** The partition count recorded in a directory's meta, if any. */
export function recordedPartitions(meta: Database<number, string>): number | undefined {
  return meta.get(PARTITIONS_KEY);
}

/**
 * Inside a write transaction (or for a probe): the refusal if a newer owner
 * has opened the directory since `epoch`, else undefined. One small read.
 */
export function fenced(meta: Database<number, string>, epoch: number, path: string): StoreFault | undefined {
  const stored = meta.get(EPOCH_KEY);
  if (stored === epoch) return undefined;
  const why = new Error(`${path} was opened by a newer owner (epoch ${String(stored)}; this process holds ${epoch}); restart to take it back`);
  return new StoreFault("fenced", undefined, { cause: why });
}

/**
 * `fenced` for commits, read once per synchronous run of write
 * transaction callbacks: lmdb-js runs a batch's callbacks (one per commit)
 * in one write transaction, in one run, and no other process writes
 * meanwhile, so one read answers for them all (a read per commit showed in
 * the writer's profile). The answer is forgotten at the next microtask,
 * before any later transaction; a refusal is never kept.
 */
export class CommitFence {
  #checked = false;

  constructor(
    private readonly meta: Database<number, string>,
    private readonly epoch: number,
    private readonly path: string,
  ) {}

  /** Inside a write transaction: as `fenced`. */
  check(): StoreFault | undefined {
    if (this.#checked) return undefined;
    const refused = fenced(this.meta, this.epoch, this.path);
    if (refused) return refused;
    this.#checked = true;
    queueMicrotask(() => (this.#checked = false));
    return undefined;
  }
}
