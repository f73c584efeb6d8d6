import type { ActorStates, Draft } from "./actor-states.js";
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
  /** Durably prepares `drafts` (actors this transaction holds locked here); rejects to vote no. */
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
}

/**
 * The points where the test-only crash hook (CAIRN_TEST_CRASH_AT, read by
 * the server) may kill the process: the coordinator after every prepare and
 * before its decision, after its decision and before the participants apply,
 * a participant right after its prepare is durable.
 */
export type TwoPhasePoint = "after-prepare" | "after-decision" | "participant-after-prepare";

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
    end(txnId: string): void;
    readonly epoch: number;
  };
  readonly ages: TransactionAges;
  readonly testPoint: (point: TwoPhasePoint) => void;
}
