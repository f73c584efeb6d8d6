/** Starting bench/server.ts in a child process and talking to it. */
import { fork, type ChildProcess } from "node:child_process";
import { buildSync } from "esbuild";
import { mkdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createHash } from "node:crypto";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import type { ServerMode } from "./server.js";

/** Messages between a bench driver and its server child. */
export type ToServer = { type: "stats"; gc?: boolean } | { type: "stop" };
export type FromServer =
  | { type: "ready"; port: number }
  | {
      type: "stats";
      cpuUserUs: number;
      cpuSystemUs: number;
      rssBytes: number;
      heapUsedBytes: number;
      memory: MemoryBreakdown;
      counters: Record<string, number>;
    };

/** Where a server child's memory is (bytes; the /proc fields are 0 off Linux). */
export interface MemoryBreakdown {
  heapTotal: number;
  external: number;
  /** Private memory: JS heap, native allocations, buffers. */
  rssAnon: number;
  /** Mapped files: the node binary, libraries, and LMDB's memory map (the kernel can drop these). */
  rssFile: number;
}

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO_DIR = dirname(BENCH_DIR);

export interface ServerStats {
  cpuUs: number;
  rssBytes: number;
  heapUsedBytes: number;
  memory: MemoryBreakdown;
  /** Whatever the server child counts (serveAsBenchChild's `counters`). */
  counters: Record<string, number>;
  at: number;
}

export interface ServerChild {
  readonly pid: number;
  readonly url: string;
  /** With `gc`, the child collects garbage first (it must run with --expose-gc). */
  stats(gc?: boolean): Promise<ServerStats>;
  stop(): Promise<void>;
}

/**
 * How bench children run (BENCH_CHILD): `bundled` (default) as production
 * runs, plain node on JavaScript: the child script and our sources bundled
 * by esbuild, packages loaded from node_modules. `tsx` runs the TypeScript
 * through tsx's loader, whose thread and caches add ~45 MB to every child's
 * RSS (measured: an empty script is 43 MB RSS under node, 89 MB under tsx).
 */
export const CHILD_RUNTIME = process.env.BENCH_CHILD ?? "bundled";
if (CHILD_RUNTIME !== "bundled" && CHILD_RUNTIME !== "tsx") throw new Error(`BENCH_CHILD must be bundled or tsx, not ${CHILD_RUNTIME}`);

const bundles = new Map<string, string>();

/**
 * `script` (in `repo`'s bench/) as one ESM file under node_modules/.cache,
 * built once per driver. Another `repo` is a checkout of another commit
 * (a baseline measured in the same run); its packages come from ours.
 */
function bundled(script: string, repo = REPO_DIR): string {
  return bundleScript(join(repo, "bench", script), repo);
}

/**
 * Any server script of `repo` (an absolute path, e.g. examples/bank/server.ts)
 * bundled as bundled() does, for children that other helpers spawn
 * (node-layouts.ts). The file's name says which checkout and script it is,
 * so drivers of different checkouts sharing node_modules do not overwrite
 * each other's bundles.
 */
export function bundleScript(entry: string, repo = REPO_DIR): string {
  const checkout = createHash("sha256").update(repo).digest("hex").slice(0, 8);
  const name = `${checkout}-${relative(repo, entry).replace(/[\\/]/g, "-").replace(/\.ts$/, ".mjs")}`;
  let out = bundles.get(name);
  if (!out) {
    out = join(REPO_DIR, "node_modules", ".cache", "cairn-bench", name);
    buildSync({
      entryPoints: [entry],
      outfile: out,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      // Packages stay in node_modules (lmdb is native); our own "@cairn-dev/cairn" imports are bundled.
      packages: "external",
      alias: { "@cairn-dev/cairn": join(repo, "src", "index.ts") },
      logLevel: "warning",
    });
    bundles.set(name, out);
  }
  return out;
}

/** Node flags for a bench child: tsx (BENCH_CHILD=tsx), plus `--cpu-prof` into $TMPDIR/cairn-bench-profiles/ when BENCH_CPU_PROF is set. */
export function childExecArgv(name: string, extra: readonly string[] = []): string[] {
  const argv = [...(CHILD_RUNTIME === "tsx" ? ["--import", "tsx"] : []), ...extra];
  if (process.env.BENCH_CPU_PROF) {
    // One folder per child: node writes one profile per thread (tsx's loader
    // runs in a worker), named by pid and thread id; the biggest is the main thread.
    const dir = join(tmpdir(), "cairn-bench-profiles", `${name}-${Date.now()}`);
    mkdirSync(dir, { recursive: true });
    argv.push("--cpu-prof", `--cpu-prof-dir=${dir}`);
  }
  return argv;
}

/** Forks a child with an IPC channel; its stdout goes to our stderr so our stdout stays JSON only. */
export function forkBenchChild(script: string, args: readonly string[], name: string, extraNodeFlags: readonly string[] = [], repo = REPO_DIR): ChildProcess {
  return fork(CHILD_RUNTIME === "tsx" ? join(repo, "bench", script) : bundled(script, repo), [...args], {
    cwd: REPO_DIR,
    execArgv: childExecArgv(name, extraNodeFlags),
    stdio: ["ignore", 2, 2, "ipc"],
  });
}

/** bench/server.ts in `mode`; from another checkout's `repo` for a baseline. */
export function startServer(mode: ServerMode, timeoutMs = 30_000, repo = REPO_DIR): Promise<ServerChild> {
  return startChildServer("server.ts", [mode], `server-${mode}${repo === REPO_DIR ? "" : "-baseline"}`, timeoutMs, [], repo);
}

/** Forks `script args` as a bench server child and waits until it listens. */
export async function startChildServer(
  script: string,
  args: readonly string[],
  name: string,
  timeoutMs = 30_000,
  nodeFlags: readonly string[] = [],
  repo = REPO_DIR,
): Promise<ServerChild> {
  const child = forkBenchChild(script, args, name, nodeFlags, repo);
  const pid = child.pid;
  if (pid === undefined) throw new Error("could not fork the bench server");
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`bench server (${name}) not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    child.on("message", (m: FromServer) => {
      if (m.type === "ready") {
        clearTimeout(timer);
        resolve(m.port);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`bench server (${name}) exited with ${code} before it was ready`));
    });
  });
  const send = (m: ToServer): void => {
    child.send(m);
  };
  return {
    pid,
    url: `http://127.0.0.1:${port}`,
    stats: (gc?: boolean) =>
      new Promise<ServerStats>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("bench server did not answer stats")), 5_000);
        const on = (m: FromServer): void => {
          if (m.type !== "stats") return;
          clearTimeout(timer);
          child.off("message", on);
          resolve({
            cpuUs: m.cpuUserUs + m.cpuSystemUs,
            rssBytes: m.rssBytes,
            heapUsedBytes: m.heapUsedBytes,
            memory: m.memory,
            counters: m.counters,
            at: performance.now(),
          });
        };
        child.on("message", on);
        send({ type: "stats", gc });
      }),
    stop: () => stopChild(child, pid, () => send({ type: "stop" })),
  };
}

/** Asks the child to stop; kills it by PID if it has not exited within 10 s. */
export function stopChild(child: ChildProcess, pid: number, ask: () => void): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      process.stderr.write(`bench: child ${pid} did not stop; killing it\n`);
      process.kill(pid, "SIGKILL");
    }, 10_000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    try {
      ask();
    } catch {
      process.kill(pid, "SIGTERM");
    }
  });
}

/**
 * The child side: reports `port` as ready, answers stats (with `counters`,
 * for scenarios that count what happens in the server), and on stop (or
 * when the driver goes away) runs `close` and exits.
 */
export function serveAsBenchChild(port: number, close: () => Promise<void>, counters: () => Record<string, number> = () => ({})): void {
  if (!process.send) throw new Error("a bench server must be forked by its driver (it needs an IPC channel)");
  const send = (m: FromServer): void => {
    process.send?.(m);
  };
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(2), 5_000).unref();
    await close();
    process.exit(0);
  };
  process.on("message", (m: ToServer) => {
    if (m.type === "stats") {
      if (m.gc) (globalThis as { gc?: () => void }).gc?.();
      const cpu = process.cpuUsage();
      const mem = process.memoryUsage();
      send({
        type: "stats",
        cpuUserUs: cpu.user,
        cpuSystemUs: cpu.system,
        rssBytes: mem.rss,
        heapUsedBytes: mem.heapUsed,
        memory: memoryBreakdown(mem),
        counters: counters(),
      });
    } else if (m.type === "stop") {
      void stop();
    }
  });
  // The driver went away without saying stop: do not linger.
  process.on("disconnect", () => void stop());
  send({ type: "ready", port });
}

function memoryBreakdown(mem: NodeJS.MemoryUsage): MemoryBreakdown {
  const kb = (field: string, status: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0) * 1024;
  let status = "";
  try {
    status = readFileSync("/proc/self/status", "utf8");
  } catch {
    // not Linux: the /proc fields stay 0
  }
  return { heapTotal: mem.heapTotal, external: mem.external, rssAnon: kb("RssAnon", status), rssFile: kb("RssFile", status) };
}
