/**
 * Bank servers as one process, as M pods (own ports), or as a supervisor of
 * M workers (one port), for the scale-out benches. They run as production
 * runs: the server script and our sources bundled by esbuild, on plain node
 * (bench/child.ts); BENCH_CHILD=tsx runs the TypeScript under tsx instead.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, SERVER_SCRIPT, spawnServer, stopServer, type SpawnedServer } from "../examples/bank/spawn.js";
import { bundleScript, CHILD_RUNTIME } from "./child.js";
import { log } from "./output.js";

export interface Layout {
  readonly name: string;
  readonly nodes: number;
  /** One server; for pods, node i's at index i. */
  readonly servers: SpawnedServer[];
  /** Pods only: node i's peer URL (127.0.0.1i:port, one port on several loopback hosts as pods have). */
  readonly peerUrls: string[];
}

/** BENCH_CPU_PROF=1: every server (and a supervisor's workers, which inherit the flag) writes a profile into $TMPDIR/cairn-bench-profiles/<layout>-<time>/. */
function nodeFlags(name: string): string[] {
  return process.env.BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${join(tmpdir(), "cairn-bench-profiles", `${name}-${Date.now()}`)}`] : [];
}

export const CLUSTER_SECRET = "bench-scale-out-secret-0123456789";

const dirs: string[] = [];
const started: SpawnedServer[] = [];

/** `source`: another server script than the bank's (same flags), e.g. test/fixtures/nodes-server.ts, or one already bundled (.mjs, bench/child.ts's bundleScript). */
export async function startLayout(name: string, nodes: number, mode: "single" | "pods" | "supervisor", source = SERVER_SCRIPT): Promise<Layout> {
  const script = CHILD_RUNTIME === "tsx" || source.endsWith(".mjs") ? source : bundleScript(source);
  const dataDir = await mkdtemp(join(tmpdir(), `cairn-scale-${name}-`));
  dirs.push(dataDir);
  const servers: SpawnedServer[] = [];
  const peerUrls: string[] = [];
  if (mode === "pods") {
    const peerPort = await freePort();
    const ports = await Promise.all(Array.from({ length: nodes }, () => freePort()));
    // Together, as the StatefulSet's Parallel policy starts pods: a first start waits for every node (DESIGN.md §13).
    const starts = Array.from({ length: nodes }, (_, i) => {
      const env = {
        CAIRN_NODES: String(nodes),
        CAIRN_POD_NAME: `cairn-${i}`,
        CAIRN_PEER_URL: `http://127.0.0.1{i}:${peerPort}`,
        CAIRN_PEER_HOST: `127.0.0.1${i}`,
        CAIRN_CLUSTER_SECRET: CLUSTER_SECRET,
        NODE_ENV: "production",
      };
      peerUrls.push(`http://127.0.0.1${i}:${peerPort}`);
      return spawnServer({ dataDir, port: ports[i]!, env, readyTimeoutMs: 120_000, script, nodeFlags: nodeFlags(`${name}-node${i}`) });
    });
    servers.push(...(await Promise.all(starts)));
  } else {
    const env: Record<string, string> = { NODE_ENV: "production", ...(mode === "supervisor" ? { CAIRN_NODES: String(nodes) } : {}) };
    servers.push(await spawnServer({ dataDir, port: await freePort(), env, readyTimeoutMs: 120_000, script, nodeFlags: nodeFlags(name) }));
  }
  started.push(...servers);
  log(`${name}: ${servers.map((s) => `${s.url} (pid ${s.pid})`).join(", ")}`);
  return { name, nodes, servers, peerUrls };
}

/** Stops every server started here (SIGTERM, SIGKILL after 30 s) and removes their data. */
export async function stopLayouts(): Promise<void> {
  for (const s of started) await stopServer(s, 30_000).catch(() => s.kill("SIGKILL"));
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
}
