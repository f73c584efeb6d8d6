// A consistent copy of an LMDB environment, live or not (`cairn backup`).
// lmdb-js runs mdb_env_copy2 on a worker thread, so the event loop goes on
// serving while it copies; the copy reads one snapshot (a read transaction
// taken under the write lock), so it holds every commit made before it
// began and none half. LMDB does not fsync the copy: we do, so a backup
// that answered is on disk.
import { existsSync } from "node:fs";
import { mkdir, open, readdir, realpath, rm, stat } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, sep } from "node:path";
import { open as openLmdb } from "lmdb";

/** The copy's file inside the destination folder, as in every data directory. */
export const BACKUP_FILE = "data.mdb";

/** Why a backup did not start; nothing was written. */
export type BackupRefusal = "relative destination" | "inside the data directory" | "not empty" | "busy" | "no data";

export class BackupRefused extends Error {
  override readonly name = "BackupRefused";
  constructor(
    readonly reason: BackupRefusal,
    message: string,
  ) {
    super(message);
  }
}

export interface BackupResult {
  /** The copied LMDB file. */
  readonly path: string;
  readonly bytes: number;
}

/** What a backup needs of an open environment (lmdb-js's RootDatabase). */
export interface CopyableEnvironment {
  backup(path: string, compact: boolean): Promise<void>;
}

/** One copy at a time per environment: each holds a read snapshot and a worker thread. */
const copying = new WeakSet<CopyableEnvironment>();

/**
 * Copies `env`, opened from `dataDir`, into the new or empty folder
 * `destination`; removes what it wrote if the copy fails.
 */
export async function backupEnvironment(env: CopyableEnvironment, dataDir: string, destination: string, compact: boolean): Promise<BackupResult> {
  if (!isAbsolute(destination)) throw new BackupRefused("relative destination", `the backup destination must be an absolute path, got ${JSON.stringify(destination)}`);
  const target = await canonical(destination);
  const data = await realpath(dataDir);
  const rel = relative(data, target);
  const outside = rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel);
  if (!outside) {
    throw new BackupRefused("inside the data directory", `the backup destination ${destination} is inside the data directory ${dataDir}`);
  }
  const existed = await isEmptyFolder(destination);
  if (copying.has(env)) throw new BackupRefused("busy", "another backup of this data directory is running");
  copying.add(env);
  const file = join(destination, BACKUP_FILE);
  try {
    await mkdir(destination, { recursive: true });
    // An environment opened from a file (no subdirectory) copies to a file name.
    await env.backup((await stat(dataDir)).isDirectory() ? destination : file, compact);
    await fsync(file);
    await fsync(destination);
    if (!existed) await fsync(dirname(destination));
    return { path: file, bytes: (await stat(file)).size };
  } catch (e) {
    await (existed ? rm(file, { force: true }) : rm(destination, { recursive: true, force: true }));
    throw e;
  } finally {
    copying.delete(env);
  }
}

/**
 * Copies the data directory of a stopped server (or of one running on this
 * machine: LMDB lets another process read it meanwhile) without serving it.
 */
export async function backupDataDir(dataDir: string, destination: string, compact: boolean): Promise<BackupResult> {
  if (!existsSync(join(dataDir, BACKUP_FILE))) throw new BackupRefused("no data", `${dataDir} holds no Cairn data (no ${BACKUP_FILE})`);
  const env = openLmdb({ path: dataDir, readOnly: true });
  try {
    return await backupEnvironment(env, dataDir, destination, compact);
  } finally {
    await env.close();
  }
}

/** True for an empty folder, false if nothing is there; BackupRefused for anything a copy would mix with. */
async function isEmptyFolder(path: string): Promise<boolean> {
  let entries: string[];
  try {
    entries = await readdir(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return false;
    if (code === "ENOTDIR") throw new BackupRefused("not empty", `the backup destination ${path} exists and is not a folder`);
    throw e;
  }
  if (entries.length > 0) throw new BackupRefused("not empty", `the backup destination ${path} exists and is not empty`);
  return true;
}

/** `path` with its deepest existing ancestor's links resolved: where it would be created. */
async function canonical(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    const parent = dirname(path);
    return parent === path ? path : join(await canonical(parent), basename(path));
  }
}

async function fsync(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
