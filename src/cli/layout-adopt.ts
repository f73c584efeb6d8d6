import { randomUUID } from "node:crypto";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { nodeOfPartition } from "../api/partition.js";
import { environmentsInUse } from "./volume-lock.js";
import { type LayoutRecord, partitionsOn, readRecords, recordFile, VolumeRefused, writeJsonDurably } from "./volume-files.js";

// `cairn layout adopt`: data directories laid out for several nodes before
// the layout guard existed have no layout records, and the guard refuses
// them ("data but no layout record"). This writes the records, after
// checking that what each volume holds is exactly node i's share of N
// partitions over M nodes: a wrong N or M here would be refused later
// only if the partitions happened not to match.

export interface AdoptOptions {
  /** Volume i is node i's data directory (M of them), or one folder the nodes share. */
  readonly volumes: readonly string[];
  readonly nodes: number;
  readonly partitions: number;
  readonly dryRun: boolean;
  readonly log: (line: string) => void;
}

export async function adoptLayout(o: AdoptOptions): Promise<void> {
  const { nodes, partitions } = o;
  if (!Number.isInteger(partitions) || partitions < 1 || !Number.isInteger(nodes) || nodes < 1 || partitions % nodes !== 0) {
    throw new VolumeRefused(`${partitions} partitions cannot be spread over ${nodes} nodes: the partition count must be a multiple of the node count`);
  }
  const shared = o.volumes.length === 1 && nodes > 1;
  if (!shared && o.volumes.length !== nodes) throw new VolumeRefused(`${nodes} nodes take ${nodes} volumes (node 0's first, in order) or one folder they share, got ${o.volumes.length}`);
  const volumes = shared ? Array<string>(nodes).fill(o.volumes[0]!) : o.volumes;
  for (const volume of new Set(volumes)) {
    if (!(await stat(volume).then((s) => s.isDirectory(), () => false))) throw new VolumeRefused(`${volume} is not a folder`);
    const records = await readRecords(volume);
    if (records.length > 0) throw new VolumeRefused(`${recordFile(volume, records[0]!.index)} exists: ${volume} has its layout records already`);
  }
  const inUse = await environmentsInUse(volumes);
  if (inUse.length > 0) throw new VolumeRefused(`the volumes are in use (${inUse.map((u) => `${u.lockFile}, pid ${u.pids.join(", ")}`).join("; ")}): stop every node first`);

  for (const volume of new Set(volumes)) {
    const rootEnvironment = await stat(join(volume, "data.mdb")).then(() => true, () => false);
    if (partitions === 1) {
      if (!rootEnvironment) throw new VolumeRefused(`${volume} holds no data.mdb: it is not a one-partition data directory`);
      continue;
    }
    if (rootEnvironment) throw new VolumeRefused(`${volume} is a one-partition data directory (data.mdb at its root), not one of ${partitions} partitions`);
    const found = await partitionsOn(volume);
    const owners = volumes.map((v, i) => (v === volume ? i : -1)).filter((i) => i >= 0);
    const expected = Array.from({ length: partitions }, (_, p) => p).filter((p) => owners.includes(nodeOfPartition(p, nodes)));
    const missing = expected.filter((p) => !found.includes(p));
    const foreign = found.filter((p) => !expected.includes(p));
    if (missing.length > 0 || foreign.length > 0) {
      const share = shared ? `all ${partitions} partitions` : `node ${owners[0]}'s share of ${partitions} partitions over ${nodes} nodes (${expected.join(", ")})`;
      const why = [missing.length > 0 ? `partitions ${missing.join(", ")} are missing` : "", foreign.length > 0 ? `it holds partitions ${foreign.join(", ")} besides` : ""];
      throw new VolumeRefused(`${volume} should hold ${share}: ${why.filter(Boolean).join("; ")}. Check --nodes, --partitions and the order of the volumes`);
    }
  }
  const clusterId = randomUUID();
  for (const [index, volume] of volumes.entries()) {
    const record: LayoutRecord = { partitions, nodes, index, clusterId };
    if (o.dryRun) o.log(`would write ${recordFile(volume, index)}: ${JSON.stringify(record)}`);
    else {
      await writeJsonDurably(recordFile(volume, index), record);
      o.log(`wrote ${recordFile(volume, index)}: node ${index} of ${nodes}, ${partitions} partitions`);
    }
  }
}
