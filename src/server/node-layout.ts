import { mkdir, open, readdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { LayoutAnswer, NodeLayout } from "../transport/peer-layout.js";
import { partitionFolderName } from "./partition-layout.js";

// What a node's data directory records of the cluster (DESIGN.md §13 rules
// 1-2): `<dataDir>/layout/node-<i>.json` once node i has initialised there,
// `node-<i>.pending.json` while its first start waits for its peers (so a
// restart during that barrier proposes the same cluster id again). On
// Kubernetes a volume holds one node's record; on one machine the nodes
// share the directory, each writing its own file.

export type { NodeLayout };

/** Where the procedure for changing N or M, or restoring a volume, is written down. */
export const LAYOUT_PROCEDURE = 'see deploy/kubernetes/README.md "Changing the number of nodes"';

/** A node that must not start on this directory: the message names the procedure. */
export class LayoutRefused extends Error {
  override readonly name = "LayoutRefused";
}

/** The layout records of one data directory, from one node's point of view. */
export class LayoutDirectory {
  readonly #folder: string;

  constructor(
    readonly dataDir: string,
    /** The layout this process's environment asks for (its cluster id is not known yet). */
    readonly wanted: Omit<NodeLayout, "clusterId">,
  ) {
    this.#folder = join(dataDir, "layout");
  }

  /** This node's record, if it initialised here. */
  own(): Promise<NodeLayout | undefined> {
    return readJson<NodeLayout>(this.#file(this.wanted.index, "json"));
  }

  /** The cluster id this node proposed or adopted during a first start that has not finished. */
  async pending(): Promise<string | undefined> {
    return (await readJson<{ clusterId: string }>(this.#file(this.wanted.index, "pending.json")))?.clusterId;
  }

  async writePending(clusterId: string): Promise<void> {
    await writeDurably(this.#folder, this.#file(this.wanted.index, "pending.json"), { clusterId });
  }

  /**
   * Initialises this node's share: its partition folders first, then its
   * record, so a record never names a partition folder that is not there
   * (a crash in between leaves empty folders, which count as empty).
   */
  async initialise(clusterId: string, partitionFolders: readonly string[]): Promise<NodeLayout> {
    for (const dir of partitionFolders) await mkdir(dir, { recursive: true });
    const layout: NodeLayout = { ...this.wanted, clusterId };
    await writeDurably(this.#folder, this.#file(layout.index, "json"), layout);
    await rm(this.#file(layout.index, "pending.json"), { force: true });
    return layout;
  }

  /** Writes this node's record into a backup laid out as a data directory, so a restored volume starts as this node. */
  async copyTo(destination: string): Promise<void> {
    const own = await this.own();
    if (own) await writeDurably(join(destination, "layout"), join(destination, "layout", `node-${own.index}.json`), own);
  }

  /** Every node record in this directory (one on a pod's volume, all on a shared directory). */
  async records(): Promise<NodeLayout[]> {
    const names = await readdir(this.#folder).catch(() => [] as string[]);
    const found = await Promise.all(names.filter((n) => /^node-\d+\.json$/.test(n)).map((n) => readJson<NodeLayout>(join(this.#folder, n))));
    return found.filter((r): r is NodeLayout => r !== undefined);
  }

  /**
   * Refuses a record that disagrees with the environment (rule 1): N, M or
   * the node index changed without the offline move of partitions. Another
   * node's record (a shared directory) need only agree on N and M.
   */
  refuseMismatch(record: NodeLayout, sameIndex = true): void {
    const { wanted } = this;
    const holds = `${this.dataDir} holds node ${record.index} of ${record.nodes} (${record.partitions} partitions, cluster ${record.clusterId})`;
    if (record.nodes !== wanted.nodes) {
      throw new LayoutRefused(`${holds}; CAIRN_NODES is ${wanted.nodes}: the number of nodes changes only by moving partitions first, ${LAYOUT_PROCEDURE}`);
    }
    if (record.partitions !== wanted.partitions) {
      throw new LayoutRefused(`${holds}; the partition count is ${wanted.partitions} (CAIRN_PARTITIONS): it is fixed when the cluster is created, ${LAYOUT_PROCEDURE}`);
    }
    if (sameIndex && record.index !== wanted.index) {
      throw new LayoutRefused(`${holds}; this is node ${wanted.index}: a volume belongs to one node, ${LAYOUT_PROCEDURE}`);
    }
  }

  /**
   * Rule 2 on an initialised directory: each partition this node owns is
   * there, and every partition folder holding data belongs to a node
   * recorded here (a move left half done, a volume mixed up).
   */
  async refuseMissingOrForeign(records: readonly NodeLayout[], ownFolders: ReadonlyMap<number, string>): Promise<void> {
    for (const [partition, dir] of ownFolders) {
      if (!(await exists(dir))) {
        throw new LayoutRefused(
          `${this.dataDir} is initialised for node ${this.wanted.index} but its partition ${partition} (${dir}) is missing: restore it from a backup, ${LAYOUT_PROCEDURE}`,
        );
      }
    }
    const recorded = new Set(records.map((r) => r.index));
    for (const { partition, dir } of await this.#partitionFolders()) {
      if (recorded.has(partition % this.wanted.nodes) || !(await holdsFiles(dir))) continue;
      throw new LayoutRefused(
        `${this.dataDir} holds partition ${partition} (${dir}), which belongs to node ${partition % this.wanted.nodes}, not recorded here: move it to its node's volume, ${LAYOUT_PROCEDURE}`,
      );
    }
  }

  /**
   * Rule 3's first half: files that make this directory not empty for a
   * first start of this node. Ignored: `lost+found` (ext4 volumes have it),
   * the layout folder, empty folders, and the partitions of nodes recorded
   * here (the nodes of one machine share the directory).
   */
  async strayFiles(records: readonly NodeLayout[]): Promise<string[]> {
    const recorded = new Set(records.map((r) => r.index));
    const entries = await readdir(this.dataDir, { withFileTypes: true }).catch(() => []);
    const stray: string[] = [];
    for (const entry of entries) {
      const path = join(this.dataDir, entry.name);
      if (entry.name === "lost+found" || entry.name === "layout") continue;
      if (entry.name === "partitions" && entry.isDirectory()) {
        for (const { partition, dir } of await this.#partitionFolders()) {
          if (!recorded.has(partition % this.wanted.nodes) && (await holdsFiles(dir))) stray.push(dir);
        }
        const others = (await readdir(path)).filter((n) => !/^p\d{4,}$/.test(n));
        stray.push(...others.map((n) => join(path, n)));
      } else if (!entry.isDirectory() || (await holdsFiles(path))) {
        stray.push(path);
      }
    }
    return stray;
  }

  /** What this directory tells a peer asking during its first start (peer-layout.ts). */
  async answer(): Promise<LayoutAnswer> {
    const own = await this.own();
    if (own) return { state: "initialised", layout: own };
    const clusterId = await this.pending();
    return clusterId === undefined ? { state: "empty" } : { state: "pending", clusterId };
  }

  async #partitionFolders(): Promise<Array<{ partition: number; dir: string }>> {
    const nested = join(this.dataDir, "partitions");
    const names = await readdir(nested).catch(() => [] as string[]);
    return names.filter((n) => /^p\d{4,}$/.test(n)).map((n) => ({ partition: Number(n.slice(1)), dir: join(nested, n) }));
  }

  #file(index: number, suffix: string): string {
    return join(this.#folder, `node-${index}.${suffix}`);
  }
}

async function readJson<T>(file: string): Promise<T | undefined> {
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
    throw new LayoutRefused(`${file} is not a layout record (not JSON): restore the volume, ${LAYOUT_PROCEDURE}`);
  }
}

/** Writes `value` as JSON under a temporary name, fsyncs it, renames it into place and fsyncs the folder. */
async function writeDurably(folder: string, file: string, value: unknown): Promise<void> {
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
  const dir = await open(folder, "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

async function exists(path: string): Promise<boolean> {
  return readdir(path).then(
    () => true,
    () => false,
  );
}

/** Whether a folder holds a file anywhere below it (empty folders do not count). */
async function holdsFiles(dir: string): Promise<boolean> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  return entries.some((e) => !e.isDirectory());
}
