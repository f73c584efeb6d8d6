import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { partitionsFolder } from "./volume-files.js";

// Whether a process has an LMDB environment of a volume open. LMDB holds a
// POSIX record lock (a shared one, from open to close) on the environment's
// `lock.mdb` for as long as any process has it open, and the kernel lists
// every such lock in /proc/locks as `… POSIX ADVISORY READ <pid>
// <major>:<minor>:<inode> …`, whoever holds it (another user or, on the
// same kernel, another container). A process that died holds none.

/** One environment in use: its lock file and the pids holding it. */
export interface EnvironmentInUse {
  readonly lockFile: string;
  readonly pids: readonly string[];
}

/** The open environments among `volumes`' (root and `partitions/p*`); throws where /proc/locks cannot be read. */
export async function environmentsInUse(volumes: readonly string[], locksFile = "/proc/locks"): Promise<EnvironmentInUse[]> {
  let table: string;
  try {
    table = await readFile(locksFile, "utf8");
  } catch (e) {
    throw new Error(`cannot read ${locksFile} (${(e as Error).message}) to check that no process has the volumes open: run this on Linux, with every node stopped`);
  }
  const holders = new Map<string, string[]>();
  for (const line of table.split("\n")) {
    // "1: POSIX  ADVISORY  READ 9598 fe:00:2147186 0 0" (a "->" marks a blocked waiter: skip it).
    const m = /^\d+:\s+(?:POSIX|OFDLCK|FLOCK)\s+\S+\s+\S+\s+(-?\d+)\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/.exec(line);
    if (!m) continue;
    const key = `${parseInt(m[2]!, 16)}:${parseInt(m[3]!, 16)}:${m[4]!}`;
    holders.set(key, [...(holders.get(key) ?? []), m[1]!]);
  }
  const inUse: EnvironmentInUse[] = [];
  for (const lockFile of await lockFiles(volumes)) {
    const s = await stat(lockFile).catch(() => undefined);
    if (!s) continue;
    const pids = holders.get(`${major(s.dev)}:${minor(s.dev)}:${s.ino}`);
    if (pids) inUse.push({ lockFile, pids });
  }
  return inUse;
}

async function lockFiles(volumes: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const volume of new Set(volumes)) {
    files.push(join(volume, "lock.mdb"));
    const names = await readdir(partitionsFolder(volume)).catch(() => [] as string[]);
    for (const name of names) files.push(join(partitionsFolder(volume), name, "lock.mdb"));
  }
  return files;
}

// Linux's dev_t encoding (glibc's gnu_dev_major/minor).
const major = (dev: number) => Number(((BigInt(dev) >> 8n) & 0xfffn) | ((BigInt(dev) >> 32n) & ~0xfffn));
const minor = (dev: number) => Number((BigInt(dev) & 0xffn) | ((BigInt(dev) >> 12n) & ~0xffn));
