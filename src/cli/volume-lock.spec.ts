import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { environmentsInUse } from "./volume-lock.js";

describe("environmentsInUse", () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });
  const volume = async () => {
    const dir = await mkdtemp(join(tmpdir(), "cairn-lock-"));
    dirs.push(dir);
    await mkdir(join(dir, "partitions", "p0001"), { recursive: true });
    await writeFile(join(dir, "partitions", "p0001", "lock.mdb"), "");
    return dir;
  };

  it("finds a partition's lock.mdb in a locks table by device and inode, and nothing else", async () => {
    const dir = await volume();
    const s = await stat(join(dir, "partitions", "p0001", "lock.mdb"));
    const dev = `${((s.dev >> 8) & 0xfff).toString(16).padStart(2, "0")}:${(s.dev & 0xff).toString(16).padStart(2, "0")}`;
    const table = join(dir, "locks");
    await writeFile(table, `1: POSIX  ADVISORY  READ 4242 ${dev}:${s.ino} 0 0\n2: POSIX  ADVISORY  WRITE 7 ${dev}:${s.ino + 1} 0 EOF\n`);
    expect(await environmentsInUse([dir], table)).toEqual([{ lockFile: join(dir, "partitions", "p0001", "lock.mdb"), pids: ["4242"] }]);
    await writeFile(table, `1: POSIX  ADVISORY  READ 4242 ${dev}:${s.ino + 1} 0 0\n`);
    expect(await environmentsInUse([dir], table)).toEqual([]);
  });

  it("sees the lock a real LMDB environment holds while a process has it open, on this kernel", async () => {
    const dir = await volume();
    const env = join(dir, "partitions", "p0002");
    const child = spawn(process.execPath, ["--input-type=module", "-e", `import { open } from "lmdb"; const db = open({ path: ${JSON.stringify(env)} }); await db.put("k", 1); console.log("open"); setInterval(() => {}, 1000);`], {
      cwd: process.cwd(),
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on("data", (d: Buffer) => d.toString().includes("open") && resolve());
        child.once("exit", (code) => reject(new Error(`the LMDB child exited with ${code}`)));
      });
      expect(await environmentsInUse([dir])).toEqual([{ lockFile: join(env, "lock.mdb"), pids: [String(child.pid)] }]);
    } finally {
      child.kill("SIGKILL");
    }
    await new Promise((resolve) => child.once("exit", resolve));
    expect(await environmentsInUse([dir])).toEqual([]);
  });
});
