import { mkdir, open, readdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";

// The files of a stopped node's volume that the offline commands (resize,
// layout adopt) read and write: the layout records `layout/node-<i>.json`
// that the server's guard checks (src/server/node-layout.ts holds the
// server's side; the CLI may not import it, DESIGN.md §10, so the format is
// restated here and both are exercised by test/e2e/resize.test.ts), and the
// partition folders `partitions/pNNNN`.

/** A layout record: one line of JSON, the same on both sides. */
export interface LayoutRecord {
  readonly partitions: number;
  readonly nodes: number;
  readonly index: number;
  readonly clusterId: string;
}

/** Refused: the volumes are not in a state the command can work from. Exit 1, the message says why. */
export class VolumeRefused extends Error {
  override readonly name = "VolumeRefused";
}

export const layoutFolder = (volume: string) => join(volume, "layout");
export const recordFile = (volume: string, index: number) => join(volume, "layout", `node-${index}.json`);
export const partitionsFolder = (volume: string) => join(volume, "partitions");
/** `p0003`, as src/server/partition-layout.ts names it. */
export const partitionFolder = (volume: string, partition: number) => join(volume, "partitions", `p${String(partition).padStart(4, "0")}`);

/** Every layout record on a volume (a pod's volume holds one; a shared directory one per node). */
export async function readRecords(volume: string): Promise<LayoutRecord[]> {
  const names = await readdir(layoutFolder(volume)).catch(() => [] as string[]);
  const records: LayoutRecord[] = [];
  for (const name of names.filter((n) => /^node-\d+\.json$/.test(n)).sort()) {
    const record = await readJson<LayoutRecord>(join(layoutFolder(volume), name));
    if (record) records.push(record);
  }
  return records;
}

/** The partitions whose folder on `volume` holds a file (empty folders do not count, as for the guard). */
export async function partitionsOn(volume: string): Promise<number[]> {
  const names = await readdir(partitionsFolder(volume)).catch(() => [] as string[]);
  const found: number[] = [];
  for (const name of names.filter((n) => /^p\d{4,}$/.test(n))) {
    const entries = await readdir(join(partitionsFolder(volume), name), { withFileTypes: true, recursive: true });
    if (entries.some((e) => !e.isDirectory())) found.push(Number(name.slice(1)));
  }
  return found.sort((a, b) => a - b);
}

export async function readJson<T>(file: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new VolumeRefused(`${file} is not JSON: restore it from a backup`);
  }
}

/** Writes `value` as one line of JSON under a temporary name, fsyncs it, renames it into place and fsyncs the folder. */
export async function writeJsonDurably(file: string, value: unknown): Promise<void> {
  const folder = join(file, "..");
  await mkdir(folder, { recursive: true });
  const temporary = `${file}.tmp`;
  const handle = await open(temporary, "w");
  try {
    await handle.writeFile(`${JSON.stringify(value)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, file);
  await syncFolder(folder);
}

/** Removes `path` (a file or a folder) and fsyncs its parent, so the removal survives a crash. */
export async function removeDurably(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
  await syncFolder(join(path, ".."));
}

export async function syncFolder(folder: string): Promise<void> {
  const dir = await open(folder, "r").catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT") return undefined;
    throw e;
  });
  if (!dir) return;
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
