import type { Store } from "../store/store.js";
import type { Logger } from "../api/logger.js";
import { LockConflict } from "./actor-lock.js";
import type { TransactionParticipant, TransactionSide } from "./transaction-side.js";

const RETRY_MAX_MS = 2_000;
/**
 * Decisions every participant applied are removed together this long after
 * the first of them: one commit for many transactions, not one each (a
 * removal lost in a crash only makes recovery finish it again, which
 * changes nothing).
 */
const FORGET_BATCH_MS = 10;

/** A transaction this coordinator runs: a participant's question before the decision makes it abort. */
interface Running {
  doomed: boolean;
  /** Set once the decision commit is issued: resolves true once durable, false if it failed. */
  deciding?: Promise<boolean>;
}

export interface TransactionDecisionsDeps {
  readonly partition: number;
  readonly store: Store;
  readonly logger: Logger;
  /** A participant partition's side; throws when it cannot be reached (tried again later). */
  participantOf(partition: number): Pick<TransactionParticipant, "commit" | "abort">;
}

/**
 * A partition as a two-phase commit coordinator (DESIGN.md §9), presumed
 * abort: the commit point is the durable decision record, written in the
 * same LMDB commit as the coordinator's own actors, the idempotency record
 * and the scheduled tasks. No record means abort. The record is forgotten
 * once every participant applied; after a restart, the coordinator has
 * each participant of every remaining record apply it, then forgets it.
 */
export class TransactionDecisions implements Pick<TransactionSide["coordinator"], keyof TransactionSide["coordinator"]> {
  readonly #running = new Map<string, Running>();
  /** Decisions to remove with the next batch (FORGET_BATCH_MS). */
  #forgotten: string[] = [];
  #forgetting: NodeJS.Timeout | undefined;
  #seq = 0;
  #stopped = false;

  constructor(private readonly deps: TransactionDecisionsDeps) {}

  get epoch(): number {
    return this.deps.store.epoch;
  }

  begin(): string {
    // The epoch makes ids unique across restarts; the partition across the cluster.
    const id = `t${this.deps.partition}.${this.epoch}.${this.#seq++}`;
    this.#running.set(id, { doomed: false });
    return id;
  }

  async decide(txnId: string, commit: () => Promise<void>): Promise<void> {
    const running = this.#running.get(txnId);
    // A participant asked first and was told "abort": retried from the top, as a lost wait-die.
    if (!running || running.doomed) throw new LockConflict("a participant gave up waiting for this transaction's decision");
    const done = commit();
    running.deciding = done.then(
      () => true,
      () => false,
    );
    await done;
  }

  end(txnId: string): void {
    this.#running.delete(txnId);
  }

  async decisionOf(txnId: string): Promise<boolean> {
    const running = this.#running.get(txnId);
    if (running) {
      if (running.deciding) return running.deciding;
      running.doomed = true;
      return false;
    }
    return this.deps.store.twoPhase.getDecision(txnId) !== undefined;
  }

  async peekDecision(txnId: string): Promise<boolean> {
    const running = this.#running.get(txnId);
    if (running) return running.deciding ?? false;
    return this.deps.store.twoPhase.getDecision(txnId) !== undefined;
  }

  forget(txnId: string): void {
    this.#forgotten.push(txnId);
    if (this.#forgetting) return;
    this.#forgetting = setTimeout(() => this.#forgetNow(), FORGET_BATCH_MS);
    this.#forgetting.unref();
  }

  #forgetNow(): void {
    clearTimeout(this.#forgetting);
    this.#forgetting = undefined;
    const forgotten = this.#forgotten;
    if (forgotten.length === 0) return;
    this.#forgotten = [];
    // Visible is enough: a decision found again after a crash is applied again, which changes nothing.
    this.deps.store.commit({ states: [], idempotency: [], forgotten }, { visibleOnly: true }).catch((e: unknown) => {
      this.deps.logger.warn({ err: e, txnIds: forgotten }, "forgetting transactions' decisions failed; recovery finishes them");
    });
  }

  /** After a restart: finishes what was decided (in the background, until every participant applied). */
  resume(): void {
    for (const decision of this.deps.store.twoPhase.decisions()) void this.#finish(decision.txnId, decision.participants);
  }

  /**
   * Has the `participants` that did not answer the first time apply a
   * decided transaction, in the background until they do (an answer lost
   * on the way is asked again: applying twice changes nothing). The
   * decision is forgotten once all applied.
   */
  finishDecided(txnId: string, participants: readonly number[]): void {
    void backoff(0).then(() => this.#finish(txnId, participants));
  }

  /** Stops retrying; the decisions already forgotten are removed now (the store closes after its pending commits). */
  stop(): void {
    this.#stopped = true;
    this.#forgetNow();
  }

  async #finish(txnId: string, participants: readonly number[]): Promise<void> {
    for (let attempt = 0; !this.#stopped; attempt++) {
      try {
        await Promise.all(participants.map((p) => this.deps.participantOf(p).commit(txnId, this.epoch)));
        this.forget(txnId);
        return;
      } catch (e) {
        this.deps.logger.warn({ err: e, txnId, attempt }, "a participant did not apply a committed transaction; trying again");
        await backoff(attempt);
      }
    }
  }
}

function backoff(attempt: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.min(RETRY_MAX_MS, 20 * 2 ** attempt)).unref());
}
