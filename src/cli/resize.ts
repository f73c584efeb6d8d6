import { stat } from "node:fs/promises";
import { join } from "node:path";
import { copyPartition } from "./partition-copy.js";
import { describePlan, resizePlan, type ResizePlan } from "./resize-plan.js";
import { environmentsInUse } from "./volume-lock.js";
import {
  type LayoutRecord,
  layoutFolder,
  partitionFolder,
  partitionsOn,
  readJson,
  readRecords,
  recordFile,
  removeDurably,
  VolumeRefused,
  writeJsonDurably,
} from "./volume-files.js";

// `cairn resize`: the offline move of partitions when the node count changes
// (deploy/kubernetes/README.md "Changing the number of nodes"). With every
// node stopped and every volume mounted, in three phases recorded in a
// journal so a run killed at any point is finished by running it again:
//   copy    each moving partition to its new volume (verified; sources kept)
//   switch  the layout records to M' (written, or removed on a leaving volume)
//   remove  the moved partitions' sources
// The journal is `layout/resize.json` on volume 0 (the one that decides) and
// on every other volume too, where the server's layout guard refuses to start
// while it is there: no node serves a half-moved cluster.

/** The journal: what is being done and how far it got. */
interface Journal {
  readonly partitions: number;
  readonly from: number;
  readonly to: number;
  readonly clusterId: string;
  readonly phase: "copy" | "switch" | "remove";
}

export const journalFile = (volume: string) => join(layoutFolder(volume), "resize.json");

/** TEST-ONLY points where CAIRN_TEST_CRASH_AT makes the process SIGKILL itself (test/e2e/resize.test.ts). */
export type ResizeCrashPoint = "resize-mid-copy" | "resize-after-copy" | "resize-mid-records" | "resize-after-records" | "resize-mid-remove";

export interface ResizeOptions {
  /** Volume i is node i's data directory; max(M, M') of them, in order. */
  readonly volumes: readonly string[];
  /** M'. */
  readonly nodes: number;
  /** Print the plan and change nothing. */
  readonly dryRun: boolean;
  readonly log: (line: string) => void;
  readonly env?: NodeJS.ProcessEnv;
}

export async function resize(o: ResizeOptions): Promise<void> {
  const { log } = o;
  // One folder: the nodes of one machine share it (the supervisor's layout), and nothing moves.
  const shared = o.volumes.length === 1;
  const crashAt = o.env?.CAIRN_TEST_CRASH_AT;
  const crash = (point: ResizeCrashPoint) => {
    if (point === crashAt) process.kill(process.pid, "SIGKILL");
  };
  for (const volume of o.volumes) {
    if (!(await stat(volume).then((s) => s.isDirectory(), () => false))) throw new VolumeRefused(`${volume} is not a folder: mount every node's volume`);
  }
  let journal = await readJson<Journal>(journalFile(o.volumes[0]!));
  if (journal && journal.to !== o.nodes) {
    throw new VolumeRefused(`a resize from ${journal.from} to ${journal.to} nodes is under way (${journalFile(o.volumes[0]!)}): finish it with --nodes ${journal.to}`);
  }
  const current = journal ?? (await currentLayout(o.volumes, shared));
  const plan = resizePlan(current.partitions, current.from, o.nodes);
  const volumes: readonly string[] = shared ? Array<string>(plan.volumes).fill(o.volumes[0]!) : o.volumes;
  if (volumes.length !== plan.volumes) {
    throw new VolumeRefused(`resizing from ${plan.from} to ${plan.to} nodes takes ${plan.volumes} volumes (node 0's first, in order) or one folder the nodes share, got ${volumes.length}`);
  }
  for (const line of describePlan(plan, volumes)) log(line);
  if (journal) log(`resuming: a run of this resize stopped in its ${journal.phase} phase`);
  const inUse = await environmentsInUse(volumes);
  if (inUse.length > 0) {
    const list = inUse.map((u) => `${u.lockFile} (pid ${u.pids.join(", ")})`).join(", ");
    throw new VolumeRefused(`the volumes are in use: a process has ${list} open. Stop every node first (kubectl scale statefulset/cairn --replicas=0)`);
  }
  if (o.dryRun) return;

  if (!journal) {
    await checkFreshStart(plan, volumes);
    journal = { partitions: plan.partitions, from: plan.from, to: plan.to, clusterId: current.clusterId, phase: "copy" };
    await writeJournal(volumes, journal);
  }
  if (journal.phase === "copy") {
    for (const [k, m] of plan.moves.entries()) {
      const [source, dest] = [partitionFolder(volumes[m.from]!, m.partition), partitionFolder(volumes[m.to]!, m.partition)];
      if (source === dest) continue; // nodes sharing one directory: nothing moves
      log(`partition ${m.partition}: ${await copyPartition(source, dest)} ${source} -> ${dest}`);
      if (k === 0) crash("resize-mid-copy");
    }
    crash("resize-after-copy");
    await writeJournal(volumes, (journal = { ...journal, phase: "switch" }));
  }
  if (journal.phase === "switch") {
    for (const index of plan.recordsWritten) {
      const record: LayoutRecord = { partitions: plan.partitions, nodes: plan.to, index, clusterId: journal.clusterId };
      await writeJsonDurably(recordFile(volumes[index]!, index), record);
      log(`wrote ${recordFile(volumes[index]!, index)}: node ${index} of ${plan.to}`);
      if (index === 0) crash("resize-mid-records");
    }
    for (const index of plan.recordsRemoved) {
      await removeDurably(recordFile(volumes[index]!, index));
      log(`removed ${recordFile(volumes[index]!, index)}`);
    }
    crash("resize-after-records");
    await writeJournal(volumes, (journal = { ...journal, phase: "remove" }));
  }
  for (const [k, m] of plan.moves.entries()) {
    const [source, dest] = [partitionFolder(volumes[m.from]!, m.partition), partitionFolder(volumes[m.to]!, m.partition)];
    if (source === dest) continue;
    await removeDurably(source);
    log(`removed the moved partition ${m.partition} from ${source}`);
    if (k === 0) crash("resize-mid-remove");
  }
  // The deciding journal last: a crash before it repeats only removals.
  for (const volume of [...new Set(volumes.slice(1))].reverse()) if (volume !== volumes[0]) await removeDurably(journalFile(volume));
  await removeDurably(journalFile(volumes[0]!));
  log(`done: start the nodes with CAIRN_NODES=${plan.to}${plan.recordsRemoved.length > 0 ? `; volumes ${plan.recordsRemoved.join(", ")} are no longer used` : ""}`);
}

/** The layout the volumes' records agree on (no resize under way). */
async function currentLayout(volumes: readonly string[], shared: boolean): Promise<{ partitions: number; from: number; clusterId: string }> {
  const found = new Map<number, LayoutRecord>();
  for (const [i, volume] of volumes.entries()) {
    for (const record of await readRecords(volume)) {
      if (record.index !== i && !shared) {
        throw new VolumeRefused(`${recordFile(volume, record.index)} is node ${record.index}'s record, on the volume given as node ${i}'s: give the volumes in node order`);
      }
      found.set(record.index, record);
    }
  }
  const first = found.get(0);
  if (!first) {
    throw new VolumeRefused(`${recordFile(volumes[0]!, 0)} is missing: a data directory made before layout records needs "cairn layout adopt" first`);
  }
  for (const record of found.values()) {
    if (record.partitions !== first.partitions || record.nodes !== first.nodes || record.clusterId !== first.clusterId) {
      throw new VolumeRefused(`the layout records disagree (${JSON.stringify(first)} and ${JSON.stringify(record)}): these volumes are not one cluster`);
    }
  }
  for (let i = 0; i < first.nodes; i++) {
    if (!found.has(i)) throw new VolumeRefused(`node ${i}'s layout record is missing from ${(shared ? volumes[0] : volumes[i]) ?? "the volumes given"}: mount every node's volume, in order`);
  }
  return { partitions: first.partitions, from: first.nodes, clusterId: first.clusterId };
}

/** Before the first change: every moving partition is on its source volume, and a new volume holds no other cluster's node. */
async function checkFreshStart(plan: ResizePlan, volumes: readonly string[]): Promise<void> {
  const held = new Map<string, number[]>();
  for (const volume of new Set(volumes)) held.set(volume, await partitionsOn(volume));
  for (const m of plan.moves) {
    if (!held.get(volumes[m.from]!)!.includes(m.partition)) {
      throw new VolumeRefused(`partition ${m.partition} is not on node ${m.from}'s volume (${partitionFolder(volumes[m.from]!, m.partition)}): restore it before resizing`);
    }
  }
  for (let i = plan.from; i < plan.volumes; i++) {
    if (volumes.indexOf(volumes[i]!) !== i) continue;
    const foreign = held.get(volumes[i]!)!;
    if (foreign.length > 0) throw new VolumeRefused(`the new volume of node ${i} (${volumes[i]}) already holds partitions ${foreign.join(", ")}: give it an empty volume`);
  }
}

/** Writes the journal on volume 0 first (it decides), then on the others. */
async function writeJournal(volumes: readonly string[], journal: Journal): Promise<void> {
  for (const volume of new Set(volumes)) await writeJsonDurably(journalFile(volume), journal);
}
