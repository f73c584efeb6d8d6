import type { Store } from "../store/store.js";
import type { Logger } from "../api/logger.js";
import type { StateSpec } from "../api/spec.js";
import type { ActorStates } from "./actor-states.js";
import { PreparedTransactions } from "./prepared-transactions.js";
import { TransactionAges } from "./transaction-age.js";
import { TransactionDecisions } from "./transaction-decisions.js";
import type { TransactionPeer, TransactionSide, TwoPhasePoint } from "./transaction-side.js";
import { twoPhaseBounds, type TwoPhaseBounds } from "./two-phase-bounds.js";

/** A partition's transaction side in this process: both roles over its own store. */
export interface LocalTransactionSide extends TransactionSide {
  readonly participant: PreparedTransactions;
  readonly coordinator: TransactionDecisions;
  /** Asks the coordinators of recovered prepared transactions, and finishes recovered decisions (in the background). */
  resume(): void;
  stop(): void;
}

export interface LocalTransactionSideOptions {
  readonly partition: number;
  readonly store: Store;
  readonly states: ActorStates;
  readonly logger: Logger;
  specOf(typeName: string): StateSpec | undefined;
  /** Another partition's side (throws for one not hosted here). */
  sideOf(partition: number): TransactionPeer;
  readonly testPoint?: (point: TwoPhasePoint) => void;
  /** Test-only smaller bounds (two-phase-bounds.ts). */
  readonly twoPhase?: Partial<TwoPhaseBounds>;
}

/**
 * Builds a partition's side; `participant.relock()` re-locks its prepared
 * actors, before any call is served, so no writer gets in first.
 */
export function localTransactionSide(o: LocalTransactionSideOptions): LocalTransactionSide {
  const testPoint = o.testPoint ?? (() => {});
  const participant = new PreparedTransactions({
    store: o.store,
    states: o.states,
    logger: o.logger,
    specOf: o.specOf,
    coordinatorOf: (p) => o.sideOf(p).coordinator,
    testPoint,
    askCoordinatorAfterMs: twoPhaseBounds(o.twoPhase).askCoordinatorAfterMs,
  });
  const coordinator = new TransactionDecisions({
    partition: o.partition,
    store: o.store,
    logger: o.logger,
    participantOf: (p) => o.sideOf(p).participant,
  });
  return {
    ...{ partition: o.partition, states: o.states, ages: new TransactionAges(o.partition), testPoint, participant, coordinator },
    resume: () => {
      participant.resume();
      coordinator.resume();
    },
    stop: () => {
      participant.stop();
      coordinator.stop();
    },
  };
}
