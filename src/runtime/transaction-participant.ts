import type { Message } from "@bufbuild/protobuf";
import type { ActorCell } from "./actor-cache.js";
import type { StateSpec } from "../api/spec.js";
import type { TransactionSide } from "./transaction-side.js";

/** One actor a transaction holds: its partition's side, its lock, its base version and its draft. */
export interface Participant {
  readonly side: TransactionSide;
  readonly spec: StateSpec;
  readonly actorId: string;
  readonly cell: ActorCell;
  readonly base: NonNullable<ActorCell["latest"]> | null;
  draft: Message;
  exists: boolean;
  dirty: boolean;
}

/** Releases the locks of `participants`. */
export function release(participants: readonly Participant[]): void {
  for (const p of participants) {
    p.cell.lock.release();
    p.cell.busy--;
  }
}

/**
 * Releases the locks of `participants` once their commit is issued: later writers build on the new
 * versions, committed after it (a failed commit fails them too, a broken lineage). Their cells stay
 * cached until it settles. Returns `durable`'s outcome.
 */
export function releaseAtIssue(participants: readonly Participant[], durable: Promise<void>): Promise<void> {
  for (const p of participants) p.cell.lock.release();
  return durable.finally(() => {
    for (const p of participants) p.cell.busy--;
  });
}
