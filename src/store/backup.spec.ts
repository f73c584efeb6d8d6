import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { open } from "lmdb";
import { afterEach, describe, expect, it } from "vitest";
import { tempDirs } from "../../test/fixtures/temp-dirs.js";
import { BackupRefused, backupDataDir, backupEnvironment, type CopyableEnvironment } from "./backup.js";

const tempDir = tempDirs("cairn-backup-spec-");
const opened: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const env of opened.splice(0)) await env.close();
});

/** A real LMDB environment in a new folder, with one record. */
function environment(): { env: CopyableEnvironment; dataDir: string } {
  const dataDir = join(tempDir(), "data");
  const env = open({ path: dataDir });
  opened.push(env);
  env.putSync("k", "v");
  return { env, dataDir };
}

/** What `backup` rejects with: its refusal reason. */
async function refusal(backup: Promise<unknown>): Promise<string> {
  const e: unknown = await backup.then(() => undefined, (e: unknown) => e);
  if (!(e instanceof BackupRefused)) throw new Error(`expected a BackupRefused, got ${String(e)}`);
  return e.reason;
}

describe("backupEnvironment", () => {
  it("copies into a new folder a file LMDB opens with the same records", async () => {
    const { env, dataDir } = environment();
    const dest = join(tempDir(), "nested", "copy");
    const result = await backupEnvironment(env, dataDir, dest, false);
    expect(result.path).toBe(join(dest, "data.mdb"));
    expect(result.bytes).toBeGreaterThan(0);
    const copy = open({ path: dest, readOnly: true });
    opened.push(copy);
    expect(copy.get("k")).toBe("v");
  });

  it("copies into an existing empty folder, compacted on request", async () => {
    const { env, dataDir } = environment();
    const dest = tempDir();
    await backupEnvironment(env, dataDir, dest, true);
    expect(readdirSync(dest)).toEqual(["data.mdb"]);
  });

  it("refuses a relative, inside, linked-inside, non-empty or file destination, writing nothing", async () => {
    const { env, dataDir } = environment();
    expect(await refusal(backupEnvironment(env, dataDir, "backups/today", false))).toBe("relative destination");
    expect(await refusal(backupEnvironment(env, dataDir, dataDir, false))).toBe("inside the data directory");
    expect(await refusal(backupEnvironment(env, dataDir, join(dataDir, "new", "copy"), false))).toBe("inside the data directory");
    expect(await refusal(backupEnvironment(env, dataDir, join(dataDir, "..copy"), false))).toBe("inside the data directory");
    const link = join(tempDir(), "link");
    symlinkSync(dataDir, link);
    expect(await refusal(backupEnvironment(env, dataDir, join(link, "copy"), false))).toBe("inside the data directory");
    const full = tempDir();
    writeFileSync(join(full, "keep.txt"), "mine");
    expect(await refusal(backupEnvironment(env, dataDir, full, false))).toBe("not empty");
    expect(readdirSync(full)).toEqual(["keep.txt"]);
    expect(await refusal(backupEnvironment(env, dataDir, join(full, "keep.txt"), false))).toBe("not empty");
    expect(readdirSync(dataDir).sort()).toEqual(["data.mdb", "lock.mdb"]);
  });

  it("runs one copy at a time per environment", async () => {
    const { dataDir } = environment();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let copying!: () => void;
    const started = new Promise<void>((resolve) => (copying = resolve));
    // An environment whose copy ends when the test says: the second call comes while the first copies.
    const slow: CopyableEnvironment = {
      async backup(path) {
        copying();
        await held;
        writeFileSync(join(path, "data.mdb"), "copy");
      },
    };
    const first = backupEnvironment(slow, dataDir, join(tempDir(), "a"), false);
    // Only once the first is copying (its checks before that are async too).
    await started;
    expect(await refusal(backupEnvironment(slow, dataDir, join(tempDir(), "b"), false))).toBe("busy");
    release();
    await expect(first).resolves.toMatchObject({ bytes: 4 });
    await expect(backupEnvironment(slow, dataDir, join(tempDir(), "c"), false)).resolves.toMatchObject({ bytes: 4 });
  });

  it("removes what it wrote when the copy fails, so a retry is not refused", async () => {
    const { dataDir } = environment();
    const failing: CopyableEnvironment = {
      async backup(path) {
        writeFileSync(join(path, "data.mdb"), "half");
        throw Object.assign(new Error("No space left on device"), { code: "ENOSPC" });
      },
    };
    const created = join(tempDir(), "new");
    await expect(backupEnvironment(failing, dataDir, created, false)).rejects.toThrow("No space");
    expect(existsSync(created)).toBe(false);
    const empty = tempDir();
    await expect(backupEnvironment(failing, dataDir, empty, false)).rejects.toThrow("No space");
    expect(readdirSync(empty)).toEqual([]);
  });
});

describe("backupDataDir", () => {
  it("copies a data directory no process has open", async () => {
    const { dataDir } = environment();
    await opened.pop()!.close();
    const dest = join(tempDir(), "copy");
    await backupDataDir(dataDir, dest, false);
    const copy = open({ path: dest, readOnly: true });
    opened.push(copy);
    expect(copy.get("k")).toBe("v");
  });

  it("refuses a folder without Cairn data, creating nothing there", async () => {
    const empty = join(tempDir(), "nothing");
    mkdirSync(empty);
    expect(await refusal(backupDataDir(empty, join(tempDir(), "copy"), false))).toBe("no data");
    expect(readdirSync(empty)).toEqual([]);
  });
});
