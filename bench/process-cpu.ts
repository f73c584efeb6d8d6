/** CPU time of server processes and their descendants (a supervisor's workers), from /proc: Linux only, 0 elsewhere. */
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second of /proc's utime and stime (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** utime + stime (µs) of `pids` and every process descended from them. */
export function processTreeCpuUs(pids: readonly number[]): number {
  let entries: string[];
  try {
    entries = readdirSync("/proc").filter((e) => /^\d+$/.test(e));
  } catch {
    return 0;
  }
  const parent = new Map<number, number>();
  const ticks = new Map<number, number>();
  for (const e of entries) {
    try {
      const stat = readFileSync(`/proc/${e}/stat`, "latin1");
      // Fields after the command (which may hold spaces) in parentheses: state ppid … utime(14) stime(15).
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      parent.set(Number(e), Number(f[1]));
      ticks.set(Number(e), Number(f[11]) + Number(f[12]));
    } catch {
      // Gone meanwhile.
    }
  }
  const roots = new Set(pids);
  let total = 0;
  for (const [pid, t] of ticks) {
    for (let p: number | undefined = pid; p !== undefined && p > 1; p = parent.get(p)) {
      if (roots.has(p)) {
        total += t;
        break;
      }
    }
  }
  return (total * 1_000_000) / TICKS_PER_SECOND;
}

/** Write system calls (write, writev, …: /proc/<pid>/io `syscw`) of `pids`' processes, summed over their threads (LMDB's writer thread too): 0 where unreadable. */
export function processWrites(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      total += Number(/^syscw: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, "latin1"))?.[1] ?? 0);
    } catch {
      // Gone, or not ours to read.
    }
  }
  return total;
}
