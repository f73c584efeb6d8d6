// `cairn resize` and `cairn layout adopt` (deploy/kubernetes/README.md
// "Changing the number of nodes") on real servers started as StatefulSet
// pods on 127.0.0.1, each on its own volume (a folder here): data written
// on 2 nodes × 8 partitions is all there, through every node, after moving
// to 4 nodes (through a crash at each of the command's crash points, each
// finished by running it again) and then to 1. The command refuses volumes
// a running server has open; adopt writes the records of volumes made
// without them, after checking their partitions.
import { spawn } from "node:child_process";
import { readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { Account } from "../../generated/bank/v1/account_cairn.js";
import { REPO_ROOT } from "../../examples/bank/spawn.js";
import { freePort, ServerProcesses, stopServer, type SpawnedServer } from "./helpers.js";

vi.setConfig({ testTimeout: 240_000, hookTimeout: 120_000 });

const PARTITIONS = 8;
const SECRET = "resize-test-secret-0123456789";
const ACCOUNTS = Array.from({ length: 12 }, (_, i) => ({ id: `resize-${i}`, balance: BigInt(10 * (i + 1)) }));
const CRASH_POINTS = ["resize-mid-copy", "resize-after-copy", "resize-mid-records", "resize-after-records", "resize-mid-remove"];
const CLI = join(REPO_ROOT, "src/cli/main.ts");

interface CliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the `cairn` command from source, to its end (bounded: a hung command fails the test). */
function cairn(args: readonly string[], env: Record<string, string> = {}): Promise<CliRun> {
  const childEnv = { ...process.env, ...env };
  delete childEnv.NODE_OPTIONS;
  const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], { cwd: REPO_ROOT, env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
  let [stdout, stderr] = ["", ""];
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  return new Promise((resolve) =>
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    }),
  );
}

const exists = (path: string) => stat(path).then(() => true, () => false);

describe("cairn resize and cairn layout adopt", () => {
  const processes = new ServerProcesses();
  const volumes: string[] = [];
  afterAll(() => processes.close());

  /** Starts pod `cairn-<ordinal>` of `nodes` on its volume, as a StatefulSet would. */
  const startPods = async (nodes: number): Promise<SpawnedServer[]> => {
    const peerPort = await freePort();
    return Promise.all(
      Array.from({ length: nodes }, async (_, ordinal) =>
        processes.spawn({
          dataDir: volumes[ordinal]!,
          port: await freePort(),
          readyTimeoutMs: 120_000,
          env: {
            CAIRN_NODES: String(nodes),
            CAIRN_PARTITIONS: String(PARTITIONS),
            CAIRN_POD_NAME: `cairn-${ordinal}`,
            CAIRN_PEER_URL: `http://127.0.0.1{i}:${peerPort}`,
            CAIRN_PEER_HOST: `127.0.0.1${ordinal}`,
            CAIRN_CLUSTER_SECRET: SECRET,
          },
        }),
      ),
    );
  };
  /** Every account, with its balance, read through every server. */
  const expectEveryAccount = async (servers: readonly SpawnedServer[]) => {
    for (const server of servers) {
      const c = processes.connect(server.url, { timeoutMs: 60_000 });
      for (const { id, balance } of ACCOUNTS) expect((await Account.ref(id).balance(c)).balance, `${id} through ${server.url}`).toBe(balance);
    }
  };
  const stopAll = async (servers: readonly SpawnedServer[]) => {
    for (const exit of await Promise.all(servers.map((s) => stopServer(s)))) expect(exit.code).toBe(0);
  };
  const partitionsOn = async (volume: string) => (await readdir(join(volume, "partitions")).catch(() => [] as string[])).sort();

  it("adopts volumes made without layout records, refuses volumes in use, and moves 2 → 4 nodes through a crash at every point", async () => {
    for (let i = 0; i < 4; i++) volumes.push(await processes.tempDataDir(`cairn-resize-${i}-`));
    const two = await startPods(2);
    const c = processes.connect(two[0]!.url, { timeoutMs: 60_000 });
    for (const { id, balance } of ACCOUNTS) await Account.create(c, id, { owner: "ann", initial: balance });

    // A running server has its partitions' LMDB environments open: refused, nothing written.
    const busy = await cairn(["resize", "--nodes", "4", ...volumes]);
    expect(busy.code, busy.stderr).toBe(1);
    expect(busy.stderr).toMatch(new RegExp(`volumes are in use: a process has .*lock\\.mdb \\(pid (${two.map((s) => s.pid).join("|")})`));
    expect(await exists(join(volumes[0]!, "layout", "resize.json"))).toBe(false);
    await stopAll(two);

    // Volumes from before the layout guard: no records. adopt checks the partitions against N and M.
    for (const volume of volumes.slice(0, 2)) await rm(join(volume, "layout"), { recursive: true });
    const wrong = await cairn(["layout", "adopt", "--nodes", "4", "--partitions", "8", ...volumes]);
    expect(wrong.code, wrong.stderr).toBe(1);
    expect(wrong.stderr).toMatch(/should hold node 0's share of 8 partitions over 4 nodes \(0, 4\): it holds partitions 2, 6 besides/);
    const adopted = await cairn(["layout", "adopt", "--nodes", "2", "--partitions", "8", volumes[0]!, volumes[1]!]);
    expect(adopted.code, adopted.stderr).toBe(0);
    expect(adopted.stdout).toMatch(/wrote .*node-1\.json: node 1 of 2, 8 partitions/);

    const dry = await cairn(["resize", "--nodes", "4", "--dry-run", ...volumes]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`move partition 2: node 0 (${volumes[0]}) -> node 2 (${volumes[2]})`);
    expect(await partitionsOn(volumes[2]!)).toEqual([]);

    // Killed at each point in turn; each run resumes where the last one stopped.
    for (const point of CRASH_POINTS) {
      const crashed = await cairn(["resize", "--nodes", "4", ...volumes], { CAIRN_TEST_CRASH_AT: point });
      expect(crashed.signal, `${point}: ${crashed.stdout}${crashed.stderr}`).toBe("SIGKILL");
      if (point === "resize-mid-copy") {
        // No node starts on a half-moved cluster.
        const refused = await processes.spawn({ dataDir: volumes[0]!, port: await freePort(), env: { CAIRN_PARTITIONS: "8" } }).then(
          () => "started",
          (e: unknown) => String(e),
        );
        expect(refused).toMatch(/in the middle of a resize/);
      }
    }
    const other = await cairn(["resize", "--nodes", "2", ...volumes.slice(0, 2)]);
    expect(other.stderr).toMatch(/a resize from 2 to 4 nodes is under way .*finish it with --nodes 4/);
    const finished = await cairn(["resize", "--nodes", "4", ...volumes]);
    expect(finished.code, finished.stderr).toBe(0);
    expect(finished.stdout).toMatch(/resuming: a run of this resize stopped in its remove phase/);
    expect(await Promise.all(volumes.map(partitionsOn))).toEqual([
      ["p0000", "p0004"],
      ["p0001", "p0005"],
      ["p0002", "p0006"],
      ["p0003", "p0007"],
    ]);
    for (const volume of volumes) expect(await exists(join(volume, "layout", "resize.json"))).toBe(false);

    const four = await startPods(4);
    await expectEveryAccount(four);
    await stopAll(four);
  });

  it("moves 4 → 1 node: every partition on the one volume, every account there", async () => {
    const run = await cairn(["resize", "--nodes", "1", ...volumes]);
    expect(run.code, run.stderr).toBe(0);
    expect(await partitionsOn(volumes[0]!)).toEqual(Array.from({ length: PARTITIONS }, (_, p) => `p000${p}`));
    for (const volume of volumes.slice(1)) expect(await partitionsOn(volume)).toEqual([]);
    const one = await processes.spawn({ dataDir: volumes[0]!, port: await freePort(), readyTimeoutMs: 120_000, env: { CAIRN_PARTITIONS: String(PARTITIONS) } });
    await expectEveryAccount([one]);
    await stopAll([one]);
  });
});
