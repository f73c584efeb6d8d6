// Which partition holds an actor, and which node hosts a partition (DESIGN.md
// §9). Servers, the Node client and the browser must agree, so the rule lives
// here once, with no platform imports. Changing it moves every actor: the
// partition count is fixed when a data directory is created, and this hash
// with it.

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * FNV-1a (32 bits) of the UTF-8 bytes of the state type, a NUL, and the
 * actor id, as TextEncoder encodes them (a lone surrogate as U+FFFD). The
 * bytes are made as they are hashed: every call routed by actor hashes,
 * and an encoded copy per call showed in a forwarding node's profile.
 */
export function actorHash(stateType: string, actorId: string): number {
  const hash = Math.imul(utf8Fnv(FNV_OFFSET, stateType), FNV_PRIME); // the NUL: hash ^ 0 is hash
  return utf8Fnv(hash, actorId) >>> 0;
}

function utf8Fnv(hash: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      hash = Math.imul(hash ^ c, FNV_PRIME);
      continue;
    }
    if (c < 0x800) {
      hash = Math.imul(hash ^ (0xc0 | (c >> 6)), FNV_PRIME);
      hash = Math.imul(hash ^ (0x80 | (c & 0x3f)), FNV_PRIME);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = s.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        const cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
        hash = Math.imul(hash ^ (0xf0 | (cp >> 18)), FNV_PRIME);
        hash = Math.imul(hash ^ (0x80 | ((cp >> 12) & 0x3f)), FNV_PRIME);
        hash = Math.imul(hash ^ (0x80 | ((cp >> 6) & 0x3f)), FNV_PRIME);
        hash = Math.imul(hash ^ (0x80 | (cp & 0x3f)), FNV_PRIME);
        continue;
      }
      c = 0xfffd;
    }
    hash = Math.imul(hash ^ (0xe0 | (c >> 12)), FNV_PRIME);
    hash = Math.imul(hash ^ (0x80 | ((c >> 6) & 0x3f)), FNV_PRIME);
    hash = Math.imul(hash ^ (0x80 | (c & 0x3f)), FNV_PRIME);
  }
  return hash;
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
