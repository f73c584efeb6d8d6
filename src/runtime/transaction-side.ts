import type { Message } from "@bufbuild/protobuf";
import { LockConflict } from "./actor-lock.js";
import type { ActorStates, Draft } from "./actor-states.js";
import type { Call, Caller } from "./call.js";
import type { TransactionAge, TransactionAges } from "./transaction-age.js";

/**
 * Two-phase commit across partitions (DESIGN.md §9), presumed abort: the
 * names both roles share. A transaction is identified by its id and its
 * coordinator (the partition of the actor its method runs on) with that
 * partition's ownership epoch, which participants check (fencing).
 */
export interface TransactionRef {
  readonly id: string;
  readonly coordinator: number;
  readonly epoch: number;
  readonly age: TransactionAge;
}

/** A participant: keeps its actors' new versions apart until the coordinator decides. */
export interface TransactionParticipant {
  /**
   * Durably prepares `drafts` (actors this transaction holds locked here); rejects to vote no, and
   * the transaction keeps their locks. Once prepared, the participant holds them: they go when it
   * applies the transaction (at the apply's issue) or drops it.
   */
  prepare(txn: TransactionRef, drafts: readonly Draft[]): Promise<void>;
  /** Applies a prepared transaction the coordinator committed; nothing if already applied. */
  commit(txnId: string, epoch: number): Promise<void>;
  /** Drops a prepared transaction (or one never prepared). */
  abort(txnId: string, epoch: number): Promise<void>;
}

/** A coordinator, asked by a participant that holds a prepared transaction it has not heard about. */
export interface TransactionCoordinator {
  /** True: committed. False: aborted (no decision record); a transaction still deciding is made to abort. */
  decisionOf(txnId: string): Promise<boolean>;
  /** A reader's question, which dooms nothing. True: committed. False: aborted, or not decided yet (once its decision commit is issued, answered when durable). */
  peekDecision(txnId: string): Promise<boolean>;
}

/**
 * The points where the test-only crash hook (CAIRN_TEST_CRASH_AT, read by
 * the server) may kill the process: the coordinator after every prepare and
 * before its decision, after its decision and before the participants apply,
 * a participant right after its prepare is durable; and (not two-phase, but
 * the same hook) a task scheduled for another node's actor, committed here
 * and not yet handed over (task-hand-over.ts).
 */
export type TwoPhasePoint = "after-prepare" | "after-decision" | "participant-after-prepare" | "before-hand-over";

/** What one partition offers transactions: its actors, both 2PC roles, the ages it hands out. */
export interface TransactionSide {
  readonly partition: number;
  readonly states: ActorStates;
  readonly participant: TransactionParticipant;
  readonly coordinator: TransactionCoordinator & {
    /** A fresh transaction id, tracked until `end`. */
    begin(): TransactionRef["id"];
    /** Issues the decision commit unless a participant already made it abort; throws if it did not commit. */
    decide(txnId: string, commit: () => Promise<void>): Promise<void>;
    /** Forgets a decision once every participant applied it. */
    forget(txnId: string): void;
    /** Asks the participants that did not answer the decision again (in the background) until they apply it, then forgets it. */
    finishDecided(txnId: string, participants: readonly number[]): void;
    end(txnId: string): void;
    readonly epoch: number;
  };
  readonly ages: TransactionAges;
  readonly testPoint: (point: TwoPhasePoint) => void;
}

/** What a coordinator's recovery and a participant's question need of another partition's side. */
export interface TransactionPeer {
  readonly participant: Pick<TransactionParticipant, "commit" | "abort">;
  readonly coordinator: TransactionCoordinator;
}

/**
 * A lost wait-die on a participant node, which therefore let go of the
 * transaction there (it keeps nothing of it): the coordinator retries as
 * for any LockConflict, and need not tell that node to abort.
 */
export class ParticipantLetGo extends LockConflict {}

/**
 * A transaction's reach into another node (DESIGN.md §9): its calls run
 * there, on drafts that node keeps for the transaction under its id, with
 * the actors locked there with its age. One object per node, whichever of
 * its partitions is named.
 */
export interface RemoteTransactions {
  /**
   * Runs a call there in `txn`: `seq` numbers the transaction's calls to that node, `undoTo` first undoes calls from that index on.
   * `prepare`: that node also prepares what the transaction changed there, in the same exchange, when it can (no call is expected to follow).
   */
  run(txn: TransactionRef, seq: number, undoTo: number | undefined, call: Call, caller: Caller, prepare: boolean): Promise<RemoteRun>;
  /** Prepares what the transaction changed there; the partitions that prepared (none: it only read, and let go). */
  prepare(txn: TransactionRef, undoTo: number | undefined): Promise<number[]>;
  /** Commits or aborts the transaction there: its prepared records of `partitions`, and whatever it holds unprepared. */
  finish(txnId: string, epoch: number, commit: boolean, partitions: readonly number[]): Promise<void>;
  /** The decision of a transaction that partition `coordinator` (hosted there) coordinates. */
  decisionOf(coordinator: number, txnId: string): Promise<boolean>;
  /** A reader's question about it (TransactionCoordinator.peekDecision). */
  peekDecision(coordinator: number, txnId: string): Promise<boolean>;
}

/** A call's answer from another node: its response, and the partitions that prepared with it (none: nothing was prepared). */
export interface RemoteRun {
  readonly response: Message;
  readonly prepared: readonly number[];
}

/** A partition another node hosts, as a transaction reaches it. */
export interface RemoteTransactionSide extends TransactionPeer {
  readonly partition: number;
  readonly node: RemoteTransactions;
}

export function remoteTransactionSide(partition: number, node: RemoteTransactions): RemoteTransactionSide {
  return {
    partition,
    node,
    participant: {
      commit: (txnId, epoch) => node.finish(txnId, epoch, true, [partition]),
      abort: (txnId, epoch) => node.finish(txnId, epoch, false, [partition]),
    },
    coordinator: {
      decisionOf: (txnId) => node.decisionOf(partition, txnId),
      peekDecision: (txnId) => node.peekDecision(partition, txnId),
    },
  };
}
