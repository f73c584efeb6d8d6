import { statfs } from "node:fs/promises";
import { StoreFault } from "./store.js";

/** Less free space than this on the data directory's filesystem: a failed write is "disk full". */
export const DISK_FULL_BYTES = 1024 * 1024;

/** Whether the filesystem holding `path` has less than `bytes` free (false when it cannot say). */
export async function freeBytesBelow(path: string, bytes: number): Promise<boolean> {
  try {
    const fs = await statfs(path);
    return fs.bavail * fs.bsize < bytes;
  } catch {
    return false;
  }
}

/**
 * What a failed LMDB write means: a StoreFault for the engine's failures
 * (its reason told apart by the system's code and, since a full disk shows
 * as EIO from LMDB's writes, by the free space under `path`); anything
 * else (a record that would not encode) as it is, since it is not the
 * store's health. lmdb-js gives the system's error as a second, rejected
 * promise (`commitError`), observed here either way.
 */
export async function writeFaultOf(e: unknown, path: string): Promise<unknown> {
  if (!StoreFault.isEngineFailure(e)) return e;
  let cause = e;
  const detail = (e as { commitError?: Promise<unknown> } | undefined)?.commitError;
  if (detail && typeof detail.then === "function") {
    // Rejected in the same callback as `e` (or never): observe it either way.
    const now = new Promise<undefined>((resolve) => setImmediate(resolve, undefined));
    cause = (await Promise.race([detail.then(() => undefined, (r: unknown) => r), now])) ?? e;
  }
  return StoreFault.from(cause, await freeBytesBelow(path, DISK_FULL_BYTES));
}
