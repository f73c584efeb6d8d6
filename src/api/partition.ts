// Which partition holds an actor, and which node hosts a partition (DESIGN.md
// §9). Servers, the Node client and the browser must agree, so the rule lives
// here once, with no platform imports. Changing it moves every actor: the
// partition count is fixed when a data directory is created, and this hash
// with it.

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const encoder = new TextEncoder();

/** FNV-1a (32 bits) of the UTF-8 bytes of the state type, a NUL, and the actor id. */
export function actorHash(stateType: string, actorId: string): number {
  let hash = FNV_OFFSET;
  for (const byte of encoder.encode(`${stateType}\0${actorId}`)) {
    hash ^= byte;
    hash = Math.imul(hash, FNV_PRIME);
  }
  return hash >>> 0;
}

/** The partition (0 … partitions-1) that holds the actor `actorId` of `stateType`. */
export function partitionOf(stateType: string, actorId: string, partitions: number): number {
  checkCount("partitions", partitions);
  return partitions === 1 ? 0 : actorHash(stateType, actorId) % partitions;
}

/** The node (0 … nodes-1) that hosts `partition`: placement is `partition mod nodes`. */
export function nodeOfPartition(partition: number, nodes: number): number {
  checkCount("nodes", nodes);
  return partition % nodes;
}

function checkCount(what: string, n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${what} must be a positive integer, got ${n}`);
}

// Task and cron schedule ids made on a data directory of several partitions
// name their partition (`p3_00mwt87qhh-217909e77edb`), so Tasks.Get/Wait/…
// and Schedules.Delete go straight to it. Ids without the mark (all ids
// when there is one partition, and ids a caller chose) are looked up on
// every partition. The form is reserved: a caller may not propose it.
const PARTITION_MARK = /^p(\d{1,5})_/;

/** `id` marked with its partition; unchanged when there is one partition. */
export function idInPartition(id: string, partition: number, partitions: number): string {
  checkCount("partitions", partitions);
  return partitions === 1 ? id : `p${partition}_${id}`;
}

/** The partition an id is marked with, or undefined for an unmarked id. */
export function partitionOfId(id: string): number | undefined {
  const m = PARTITION_MARK.exec(id);
  return m ? Number(m[1]) : undefined;
}
