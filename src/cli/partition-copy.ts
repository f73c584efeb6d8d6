import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { copyFile, mkdir, open, readdir, rename } from "node:fs/promises";
import { join, relative } from "node:path";
import { removeDurably, syncFolder } from "./volume-files.js";

// Copies a stopped partition's folder to another volume so that it is there
// whole or not at all: into `<dest>.resize-copy`, each file fsynced, checked
// against the source byte for byte (SHA-256), then renamed into place. A
// stopped LMDB environment is plain files; its `lock.mdb` is left behind
// (LMDB makes a fresh one on open).

const SKIPPED = new Set(["lock.mdb"]);

/**
 * Makes `dest` a verified copy of `source`. An existing `dest` (a run that
 * crashed after the rename) is verified and kept, or replaced if it differs;
 * a leftover temporary copy is discarded.
 */
export async function copyPartition(source: string, dest: string): Promise<"copied" | "verified"> {
  const sourceDigests = await digests(source);
  const existing = await digests(dest).catch(() => undefined);
  if (existing && same(sourceDigests, existing)) return "verified";
  const temporary = `${dest}.resize-copy`;
  await removeDurably(temporary);
  await mkdir(temporary, { recursive: true });
  for (const file of sourceDigests.keys()) {
    const to = join(temporary, file);
    await mkdir(join(to, ".."), { recursive: true });
    await copyFile(join(source, file), to);
    const handle = await open(to, "r+");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
  await syncFolder(temporary);
  const copied = await digests(temporary);
  if (!same(sourceDigests, copied)) throw new Error(`the copy of ${source} in ${temporary} differs from it after writing: check the volume`);
  if (existing) await removeDurably(dest);
  await rename(temporary, dest);
  await syncFolder(join(dest, ".."));
  return "copied";
}

/** Each file's SHA-256 under `folder` (relative path to hex digest), lock files left out; throws if the folder is missing. */
export async function digests(folder: string): Promise<Map<string, string>> {
  const entries = await readdir(folder, { withFileTypes: true, recursive: true });
  const files = entries.filter((e) => e.isFile() && !SKIPPED.has(e.name)).map((e) => relative(folder, join(e.parentPath, e.name)));
  const result = new Map<string, string>();
  for (const file of files.sort()) result.set(file, await sha256(join(folder, file)));
  return result;
}

function same(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  return a.size === b.size && [...a].every(([file, digest]) => b.get(file) === digest);
}

function sha256(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    createReadStream(file)
      .on("data", (chunk) => hash.update(chunk))
      .on("error", reject)
      .on("end", () => resolve(hash.digest("hex")));
  });
}
