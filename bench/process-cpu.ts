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

/** One thread's counters from /proc/<pid>/task/<tid>/: its name (libuv's pool threads are "libuv-worker", V8's "V8Worker", lmdb-js's writer has the process's name), CPU and context switches. */
export interface ThreadCounters {
  readonly pid: number;
  readonly tid: number;
  readonly name: string;
  readonly cpuUs: number;
  /** Of which in the kernel (system calls, and on loopback the peer's TCP receive work that a send runs). */
  readonly systemUs: number;
  /** The thread gave up the CPU (waited: epoll, a lock, fsync). */
  readonly voluntary: number;
  /** The scheduler took the CPU from it (another thread was due). */
  readonly involuntary: number;
}

/** Every thread of `pids` (not their children): empty where /proc is unreadable. */
export function threadCounters(pids: readonly number[]): ThreadCounters[] {
  const out: ThreadCounters[] = [];
  for (const pid of pids) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        const dir = `/proc/${pid}/task/${tid}`;
        const stat = readFileSync(`${dir}/stat`, "latin1");
        const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        const status = readFileSync(`${dir}/status`, "latin1");
        const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)$`, "m").exec(status)?.[1] ?? 0);
        out.push({
          pid,
          tid: Number(tid),
          name: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")),
          cpuUs: ((Number(f[11]) + Number(f[12])) * 1_000_000) / TICKS_PER_SECOND,
          systemUs: (Number(f[12]) * 1_000_000) / TICKS_PER_SECOND,
          voluntary: field("voluntary_ctxt_switches"),
          involuntary: field("nonvoluntary_ctxt_switches"),
        });
      } catch {
        // Gone meanwhile.
      }
    }
  }
  return out;
}

/** What the threads of one role did between two readings. */
export interface ThreadSum {
  threads: number;
  cpuUs: number;
  systemUs: number;
  voluntary: number;
  involuntary: number;
}

/** What each thread did between two readings, summed by role (`role(thread)`): CPU µs and context switches. */
export function threadDelta(before: readonly ThreadCounters[], after: readonly ThreadCounters[], role: (t: ThreadCounters) => string): Map<string, ThreadSum> {
  const was = new Map(before.map((t) => [t.tid, t]));
  const sums = new Map<string, ThreadSum>();
  for (const t of after) {
    const b = was.get(t.tid);
    const key = role(t);
    const s = sums.get(key) ?? { threads: 0, cpuUs: 0, systemUs: 0, voluntary: 0, involuntary: 0 };
    s.threads++;
    s.cpuUs += t.cpuUs - (b?.cpuUs ?? 0);
    s.systemUs += t.systemUs - (b?.systemUs ?? 0);
    s.voluntary += t.voluntary - (b?.voluntary ?? 0);
    s.involuntary += t.involuntary - (b?.involuntary ?? 0);
    sums.set(key, s);
  }
  return sums;
}

/** Each of `pids` and every process descended from it, mapped to the index in `pids` of its root (a supervisor's workers map to the supervisor's). */
export function processTrees(pids: readonly number[]): Map<number, number> {
  const parent = new Map<number, number>();
  try {
    for (const e of readdirSync("/proc")) {
      if (!/^\d+$/.test(e)) continue;
      try {
        const stat = readFileSync(`/proc/${e}/stat`, "latin1");
        parent.set(Number(e), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
      } catch {
        // Gone meanwhile.
      }
    }
  } catch {
    // No /proc: the roots alone.
  }
  const out = new Map<number, number>(pids.map((p, i) => [p, i]));
  for (const pid of parent.keys()) {
    for (let p: number | undefined = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) {
      const root = out.get(p);
      if (root !== undefined && pids[root] === p) {
        out.set(pid, root);
        break;
      }
    }
  }
  return out;
}
