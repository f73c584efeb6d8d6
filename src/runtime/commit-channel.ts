import { channel } from "node:diagnostics_channel";
import type { Message } from "@bufbuild/protobuf";

/** The `node:diagnostics_channel` name on which durable commits are published. */
export const COMMIT_CHANNEL = "cairn:commit";

/**
 * One actor's new version, published once it is durable, before readers,
 * watchers and the writer's reply see it: for metrics, tracing and
 * benchmarks (`diagnostics_channel.subscribe(COMMIT_CHANNEL, (m) => …)`).
 * Subscribers run inside the commit's callback: keep them short and do not
 * change `state`.
 */
export interface CommitMessage {
  readonly stateType: string;
  readonly actorId: string;
  readonly version: number;
  readonly state: Readonly<Message>;
}

const commits = channel(COMMIT_CHANNEL);

/** Publishes a commit if anyone listens (nothing is built otherwise). */
export function publishCommit(stateType: string, actorId: string, version: number, state: Readonly<Message>): void {
  if (commits.hasSubscribers) commits.publish({ stateType, actorId, version, state } satisfies CommitMessage);
}

/**
 * The internal channel of durable deletions: not public (a `CommitMessage`
 * always has a state), read by the cross-node version stream so other
 * nodes' waiters on a deleted actor wake (version-stream.ts).
 */
export const DELETION_CHANNEL = "cairn:deletion";

/** A deleted actor, once its deletion is durable. */
export interface DeletionMessage {
  readonly stateType: string;
  readonly actorId: string;
}

const deletions = channel(DELETION_CHANNEL);

/** Publishes a deletion if anyone listens. */
export function publishDeletion(stateType: string, actorId: string): void {
  if (deletions.hasSubscribers) deletions.publish({ stateType, actorId } satisfies DeletionMessage);
}
