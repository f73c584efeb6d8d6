import type { RootDatabase } from "lmdb";

const done = (): void => {};

/**
 * The flush to disk of the lmdb-js batch a write has just joined: call it
 * in the same synchronous run as the write (`put`, `transaction`).
 *
 * Why: `root.flushed` is the flush of the NEWEST batch at the moment it is
 * asked for. Asked after awaiting the write's visibility, it is often a
 * later batch's, so an early writer waited for writes issued after it.
 * Asked at once, the newest batch is the write's own (lmdb-js starts a
 * batch per event turn; every write of the turn joins it) or, in the rare
 * case a batch was cut mid-turn, one after it, whose flush also covers it:
 * never an earlier one, so the write is on disk when this resolves.
 *
 * The promise never resolves when the batch's commit fails (the write's
 * own promise rejects then); it never rejects unobserved.
 */
export function ownFlush(root: RootDatabase): Promise<void> {
  const flushed = root.flushed.then(done);
  flushed.catch(done);
  return flushed;
}
