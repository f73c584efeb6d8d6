import type { Logger } from "../api/logger.js";
import { LmdbStore, type Durability } from "../store/lmdb-store.js";
import type { Store } from "../store/store.js";
import { Partitions } from "../runtime/partitions.js";
import type { Elsewhere } from "../runtime/remote-partition.js";
import type { Runtime, RuntimeOptions } from "../runtime/runtime.js";
import type { ServicerClass } from "../runtime/servicer.js";
import { Watchers } from "../runtime/watchers.js";
import type { TwoPhasePoint } from "../runtime/transaction-side.js";
import type { TwoPhaseBounds } from "../runtime/two-phase-bounds.js";
import { createRuntime } from "./create-runtime.js";
import { partitionDirs } from "./partition-layout.js";

/** The partitions this process opened: each its own store and runtime. */
export interface OpenedPartitions {
  readonly partitions: Partitions<Runtime>;
  /** The hosted partitions' numbers, stores and runtimes, in partition order. */
  readonly hosted: ReadonlyArray<{ readonly partition: number; readonly store: LmdbStore; readonly runtime: Runtime }>;
}

export interface OpenOptions {
  readonly dataDir: string;
  readonly count: number;
  /** Internal: the partitions to open (default all); calls for the others answer UNAVAILABLE (Partitions). */
  readonly hosted?: readonly number[];
  readonly durability?: Durability;
  readonly logger: Logger;
  readonly now: () => number;
  readonly wrapStore?: (store: Store) => Store;
  readonly servicers: readonly ServicerClass[];
  readonly runtime: RuntimeOptions & { logger: Logger; testPoint?: (point: TwoPhasePoint) => void; twoPhase?: Partial<TwoPhaseBounds> };
  /** With several nodes: the process's watchers (fed by other nodes' version streams too). */
  readonly watchers?: Watchers;
  /** With several nodes: who answers for the partitions other nodes host. */
  readonly elsewhere?: Elsewhere;
}

/**
 * Opens the partitions of a data directory (partition-layout.ts), each a
 * store and a runtime; with one, exactly today's single store and runtime,
 * nothing routed. A failure closes what was opened.
 */
export async function openPartitions(o: OpenOptions): Promise<OpenedPartitions> {
  const dirs = partitionDirs(o.dataDir, o.count);
  const numbers = o.hosted ?? dirs.map((_, p) => p);
  for (const p of numbers) {
    if (!Number.isInteger(p) || p < 0 || p >= o.count) throw new RangeError(`hosted partition ${p} is not one of 0…${o.count - 1}`);
  }
  const partitions = new Partitions<Runtime>(o.count);
  // One per process: a commit on any partition wakes readers of it on every one.
  const watchers = o.watchers ?? new Watchers();
  const hosted: Array<OpenedPartitions["hosted"][number]> = [];
  try {
    for (const partition of numbers) {
      const store = new LmdbStore({ path: dirs[partition]!, durability: o.durability, logger: o.logger, now: o.now, partitions: o.count });
      try {
        const placement = o.count === 1 ? undefined : { partition, partitions, elsewhere: o.elsewhere };
        const logger = o.count === 1 ? o.logger : o.logger.child({ partition });
        const runtime = createRuntime(o.wrapStore ? o.wrapStore(store) : store, o.servicers, { ...o.runtime, logger, placement, watchers });
        partitions.host(partition, runtime);
        hosted.push({ partition, store, runtime });
      } catch (e) {
        await store.close();
        throw e;
      }
    }
  } catch (e) {
    // A bad option (two servicers for one state, a bad retry policy), or a refused directory: nothing stays open.
    await Promise.all(hosted.map((h) => h.store.close()));
    throw e;
  }
  return { partitions, hosted };
}
