import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { LayoutDirectory, LayoutRefused } from "./node-layout.js";

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});
const volume = async () => {
  const dir = await mkdtemp(join(tmpdir(), "cairn-node-layout-"));
  dirs.push(dir);
  return dir;
};
const folders = (dataDir: string, ...partitions: number[]) => new Map(partitions.map((p) => [p, join(dataDir, "partitions", `p000${p}`)]));

describe("LayoutDirectory", () => {
  it("counts lost+found, empty folders and a pending proposal as empty, and any other file as data", async () => {
    const dataDir = await volume();
    const node1 = new LayoutDirectory(dataDir, { partitions: 4, nodes: 2, index: 1 });
    await mkdir(join(dataDir, "lost+found", "x"), { recursive: true });
    await writeFile(join(dataDir, "lost+found", "x", "orphan"), "ext4's");
    await mkdir(join(dataDir, "partitions", "p0001"), { recursive: true });
    await node1.writePending("c-1");
    expect(await node1.strayFiles([])).toEqual([]);
    expect(await node1.answer()).toEqual({ state: "pending", clusterId: "c-1" });
    await writeFile(join(dataDir, "partitions", "p0001", "data.mdb"), "x");
    await writeFile(join(dataDir, "data.mdb"), "x");
    expect((await node1.strayFiles([])).sort()).toEqual([join(dataDir, "data.mdb"), join(dataDir, "partitions", "p0001")]);
  });

  it("initialises folders then its record, which peers and restarts read back", async () => {
    const dataDir = await volume();
    const node0 = new LayoutDirectory(dataDir, { partitions: 4, nodes: 2, index: 0 });
    const layout = await node0.initialise("c-0", [...folders(dataDir, 0, 2).values()]);
    expect(layout).toEqual({ partitions: 4, nodes: 2, index: 0, clusterId: "c-0" });
    expect(await node0.answer()).toEqual({ state: "initialised", layout });
    expect(await node0.pending()).toBeUndefined();
    expect(await node0.records()).toEqual([layout]);
    await expect(node0.refuseMissingOrForeign([layout], folders(dataDir, 0, 2))).resolves.toBeUndefined();
    // A directory shared by the nodes of one machine: node 1 sees node 0's partitions as node 0's.
    const node1 = new LayoutDirectory(dataDir, { partitions: 4, nodes: 2, index: 1 });
    await writeFile(join(dataDir, "partitions", "p0000", "data.mdb"), "x");
    expect(await node1.strayFiles([layout])).toEqual([]);
  });

  it("refuses another N, M or index, a missing partition and a partition no recorded node owns", async () => {
    const dataDir = await volume();
    const node1 = new LayoutDirectory(dataDir, { partitions: 4, nodes: 2, index: 1 });
    const layout = await node1.initialise("c", [...folders(dataDir, 1, 3).values()]);
    const bigger = new LayoutDirectory(dataDir, { partitions: 8, nodes: 4, index: 1 });
    expect(() => bigger.refuseMismatch(layout)).toThrow(/holds node 1 of 2 \(4 partitions, cluster c\); CAIRN_NODES is 4: .*Changing the number of nodes/);
    const moreN = new LayoutDirectory(dataDir, { partitions: 8, nodes: 2, index: 1 });
    expect(() => moreN.refuseMismatch(layout)).toThrow(/the partition count is 8/);
    const other = new LayoutDirectory(dataDir, { partitions: 4, nodes: 2, index: 0 });
    expect(() => other.refuseMismatch(layout)).toThrow(/this is node 0: a volume belongs to one node/);
    expect(() => other.refuseMismatch(layout, false)).not.toThrow();
    await rm(join(dataDir, "partitions", "p0003"), { recursive: true });
    await expect(node1.refuseMissingOrForeign([layout], folders(dataDir, 1, 3))).rejects.toThrow(/partition 3 .* is missing: restore it from a backup/);
    await mkdir(join(dataDir, "partitions", "p0003"));
    await mkdir(join(dataDir, "partitions", "p0002"));
    await expect(node1.refuseMissingOrForeign([layout], folders(dataDir, 1, 3))).resolves.toBeUndefined();
    await writeFile(join(dataDir, "partitions", "p0002", "data.mdb"), "x");
    const refusal = await node1.refuseMissingOrForeign([layout], folders(dataDir, 1, 3)).catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(LayoutRefused);
    expect((refusal as Error).message).toMatch(/holds partition 2 .*which belongs to node 0, not recorded here/);
  });
});
