// The command's own rules on folders (no server): the e2e test
// (test/e2e/resize.test.ts) runs it between real nodes.
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { journalFile, resize } from "./resize.js";
import { partitionFolder, readRecords, recordFile, writeJsonDurably } from "./volume-files.js";

describe("resize", () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });
  const folder = async () => {
    const dir = await mkdtemp(join(tmpdir(), "cairn-resize-spec-"));
    dirs.push(dir);
    return dir;
  };
  /** A stopped node's share, as the server leaves it: its record and its partitions' data files. */
  const node = async (volume: string, index: number, nodes: number, partitions: number) => {
    await writeJsonDurably(recordFile(volume, index), { partitions, nodes, index, clusterId: "c1" });
    for (let p = index; p < partitions; p += nodes) {
      await mkdir(partitionFolder(volume, p), { recursive: true });
      await writeFile(join(partitionFolder(volume, p), "data.mdb"), `partition ${p}`);
    }
  };
  const run = (volumes: string[], nodes: number, dryRun = false) => resize({ volumes, nodes, dryRun, log: () => {}, env: {} });

  it("nodes sharing one folder: only the records change", async () => {
    const shared = await folder();
    for (const i of [0, 1]) await node(shared, i, 2, 4);
    await run([shared], 4);
    expect((await readRecords(shared)).map((r) => [r.index, r.nodes])).toEqual([[0, 4], [1, 4], [2, 4], [3, 4]]);
    expect(await readdir(join(shared, "partitions"))).toEqual(["p0000", "p0001", "p0002", "p0003"]);
    await run([shared], 1);
    expect((await readRecords(shared)).map((r) => [r.index, r.nodes])).toEqual([[0, 1]]);
    expect(await readdir(join(shared, "layout"))).toEqual(["node-0.json"]);
  });

  it("refuses the wrong number of volumes, volumes out of order, and a new volume that holds partitions; --dry-run changes nothing", async () => {
    const volumes = [await folder(), await folder(), await folder(), await folder()];
    for (const i of [0, 1]) await node(volumes[i]!, i, 2, 8);
    await expect(run(volumes.slice(0, 3), 4)).rejects.toThrow(/takes 4 volumes .* got 3/);
    await expect(run([volumes[1]!, volumes[0]!, volumes[2]!, volumes[3]!], 4)).rejects.toThrow(/node 1's record, on the volume given as node 0's/);
    await run(volumes, 4, true);
    expect(await readdir(volumes[2]!)).toEqual([]);
    await mkdir(partitionFolder(volumes[3]!, 5), { recursive: true });
    await writeFile(join(partitionFolder(volumes[3]!, 5), "data.mdb"), "another cluster's");
    await expect(run(volumes, 4)).rejects.toThrow(/new volume of node 3 .* already holds partitions 5/);
    await expect(readdir(join(volumes[0]!, "layout"))).resolves.toEqual(["node-0.json"]);
    await expect(readdir(journalFile(volumes[0]!))).rejects.toThrow(/ENOENT/);
  });
});
