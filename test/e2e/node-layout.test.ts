// The scale-up guard (DESIGN.md §13 rules 1-3), with real processes started
// as StatefulSet pods on 127.0.0.1, each on its own volume (a folder here):
// a fresh cluster initialises only once every node has answered; a restart
// needs no peer; a volume laid out for another shape, an index past
// CAIRN_NODES, an emptied volume beside a live cluster and a missing
// partition each refuse to start with a message naming the procedure.
// (Nodes sharing one directory, as under the supervisor: nodes.test.ts.)
import { mkdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { Account } from "../../generated/bank/v1/account_cairn.js";
import { nodeOfPartition, partitionOf } from "../../src/api/partition.js";
import type { NodeLayout } from "../../src/transport/peer-layout.js";
import { waitFor } from "../fixtures/waiting.js";
import { freePort, ServerProcesses, SERVER_READY_MS, stopServer, type SpawnedServer } from "./helpers.js";

vi.setConfig({ testTimeout: 480_000, hookTimeout: 240_000 });

const NODES = 2;
const SECRET = "layout-test-secret-0123456789";
const PROCEDURE = 'see deploy/kubernetes/README.md "Changing the number of nodes"';

describe("a node's volume records its layout", () => {
  const processes = new ServerProcesses();
  const volumes: string[] = [];
  const running: Array<SpawnedServer | undefined> = [];
  let peerPort = 0;
  afterAll(() => processes.close());

  /** Starts pod `cairn-<ordinal>` on `volume` as a StatefulSet would (CAIRN_NODES, the pod name, the peer URL with {i}). */
  const startPod = async (ordinal: number, volume: string, extra: Record<string, string> = {}, log?: (line: string) => void) =>
    processes.spawn({
      dataDir: volume,
      port: await freePort(),
      log,
      env: {
        CAIRN_NODES: String(NODES),
        CAIRN_POD_NAME: `cairn-${ordinal}`,
        CAIRN_PEER_URL: `http://127.0.0.1{i}:${peerPort}`,
        CAIRN_PEER_HOST: `127.0.0.1${ordinal}`,
        CAIRN_CLUSTER_SECRET: SECRET,
        ...extra,
      },
    });
  /** The reason a start was refused: the process exited before serving, with its output. */
  const refusal = async (start: Promise<SpawnedServer>): Promise<string> => {
    const outcome = await start.then(
      (server) => server,
      (e: unknown) => (e instanceof Error ? e.message : String(e)),
    );
    if (typeof outcome !== "string") throw new Error(`node ${outcome.pid} started; it should have refused`);
    expect(outcome).toMatch(/exited before serving \(code [1-9]/);
    return outcome;
  };
  const record = async (volume: string, index: number) => JSON.parse(await readFile(join(volume, "layout", `node-${index}.json`), "utf8")) as NodeLayout;
  const onNode = (node: number, prefix: string) => {
    for (let n = 0; ; n++) if (nodeOfPartition(partitionOf("bank.v1.Account", `${prefix}-${n}`, NODES), NODES) === node) return `${prefix}-${n}`;
  };

  it("initialises a fresh cluster only once every node answers, with one cluster id", async () => {
    peerPort = await freePort();
    for (let i = 0; i < NODES; i++) volumes.push(await processes.tempDataDir(`cairn-layout-${i}-`));
    // Node 0 alone waits at the barrier: its volume stays uninitialised until node 1 answers.
    const lines: string[] = [];
    const first = startPod(0, volumes[0]!, {}, (line) => lines.push(line));
    await waitFor(() => lines.some((l) => /first start of node 0 of 2 .* waiting for node 1/.test(l)), "node 0 to wait for node 1", SERVER_READY_MS);
    await expect(record(volumes[0]!, 0)).rejects.toThrow(/ENOENT/);
    running.push(...(await Promise.all([first, startPod(1, volumes[1]!)])));
    const [r0, r1] = [await record(volumes[0]!, 0), await record(volumes[1]!, 1)];
    expect(r0).toMatchObject({ nodes: 2, partitions: 2, index: 0 });
    expect(r1).toMatchObject({ nodes: 2, partitions: 2, index: 1 });
    expect(r1.clusterId).toBe(r0.clusterId);
    // Each volume holds its own node's partition only.
    await expect(readFile(join(volumes[1]!, "partitions", "p0001", "data.mdb"))).resolves.toBeDefined();
    await expect(readFile(join(volumes[1]!, "partitions", "p0000", "data.mdb"))).rejects.toThrow(/ENOENT/);
    const c = processes.connect(running[0]!.url, { timeoutMs: 60_000 });
    await Account.create(c, onNode(1, "layout"), { owner: "ann", initial: 5n });
  });

  it("refuses a volume recorded for another CAIRN_NODES, and an index past CAIRN_NODES", async () => {
    await stopServer(running[1]!, 60_000);
    running[1] = undefined;
    const resized = await refusal(startPod(1, volumes[1]!, { CAIRN_NODES: "4", CAIRN_PARTITIONS: "4" }));
    expect(resized).toContain(`holds node 1 of 2 (2 partitions`);
    expect(resized).toContain(`CAIRN_NODES is 4: the number of nodes changes only by moving partitions first, ${PROCEDURE}`);
    // A `kubectl scale` to 3 without the ConfigMap: pod cairn-2 with CAIRN_NODES=2.
    const extra = await refusal(startPod(2, await processes.tempDataDir("cairn-layout-2-")));
    expect(extra).toContain(`node index 2 is out of range for 2 nodes (CAIRN_NODES)`);
    expect(extra).toContain(PROCEDURE);
    // The refusals wrote nothing: the volume still serves as node 1.
    expect((await record(volumes[1]!, 1)).nodes).toBe(2);
  });

  it("restarts on an initialised volume without its peers, and refuses an emptied volume beside a live cluster", async () => {
    await stopServer(running[0]!, 60_000);
    running[0] = undefined;
    // Node 1 alone: its record is enough.
    running[1] = await startPod(1, volumes[1]!);
    const c = processes.connect(running[1].url, { timeoutMs: 60_000 });
    expect((await Account.ref(onNode(1, "layout")).balance(c)).balance).toBe(5n);
    // Node 0's volume lost (emptied; ext4's lost+found stays): the cluster exists, so it must be restored, not made anew.
    await rm(volumes[0]!, { recursive: true, force: true });
    await mkdir(join(volumes[0]!, "lost+found"), { recursive: true });
    const emptied = await refusal(startPod(0, volumes[0]!));
    expect(emptied).toContain("the cluster exists");
    expect(emptied).toContain("this node's volume");
    expect(emptied).toContain("is empty: restore its partitions");
    await expect(readFile(join(volumes[0]!, "layout", "node-0.json"))).rejects.toThrow(/ENOENT/);
  });

  it("refuses an initialised volume whose partition is missing, rather than creating it empty", async () => {
    await stopServer(running[1]!, 60_000);
    running[1] = undefined;
    await rename(join(volumes[1]!, "partitions", "p0001"), join(volumes[1]!, "moved-away"));
    const missing = await refusal(startPod(1, volumes[1]!));
    expect(missing).toContain("is initialised for node 1 but its partition 1");
    expect(missing).toContain("is missing: restore it from a backup");
  });
});
