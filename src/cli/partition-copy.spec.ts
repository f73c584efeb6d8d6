import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { copyPartition } from "./partition-copy.js";

describe("copyPartition", () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });
  const setUp = async () => {
    const root = await mkdtemp(join(tmpdir(), "cairn-copy-"));
    dirs.push(root);
    const source = join(root, "a", "partitions", "p0002");
    await mkdir(source, { recursive: true });
    await writeFile(join(source, "data.mdb"), Buffer.alloc(100_000, 7));
    await writeFile(join(source, "lock.mdb"), "readers");
    const dest = join(root, "b", "partitions", "p0002");
    await mkdir(join(dest, ".."), { recursive: true });
    return { source, dest };
  };

  it("copies the files but the lock file, and leaves no temporary folder", async () => {
    const { source, dest } = await setUp();
    expect(await copyPartition(source, dest)).toBe("copied");
    expect(await readdir(dest)).toEqual(["data.mdb"]);
    expect(await readFile(join(dest, "data.mdb"))).toEqual(await readFile(join(source, "data.mdb")));
    expect(await readdir(join(dest, ".."))).toEqual(["p0002"]);
  });

  it("a second run verifies the copy it finds; a differing copy or a leftover temporary one is replaced", async () => {
    const { source, dest } = await setUp();
    await copyPartition(source, dest);
    expect(await copyPartition(source, dest)).toBe("verified");
    await writeFile(join(dest, "data.mdb"), "torn");
    await mkdir(`${dest}.resize-copy`);
    await writeFile(join(`${dest}.resize-copy`, "data.mdb"), "half");
    expect(await copyPartition(source, dest)).toBe("copied");
    expect(await readFile(join(dest, "data.mdb"))).toEqual(await readFile(join(source, "data.mdb")));
    expect(await readdir(join(dest, ".."))).toEqual(["p0002"]);
  });
});
