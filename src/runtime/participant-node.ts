import type { Message } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { CallError, failedPrecondition } from "../api/errors.js";
import { LockConflict, lockHandOver } from "./actor-lock.js";
import type { Call, Caller } from "./call.js";
import type { Engine } from "./engine.js";
import { hostedSide, runInTransaction, Transaction } from "./transaction.js";
import { release, type Participant } from "./transaction-participant.js";
import { ParticipantLetGo, type RemoteRun, type RemoteTransactions, type TransactionRef, type TransactionSide } from "./transaction-side.js";
import { twoPhaseBounds, type TwoPhaseBounds } from "./two-phase-bounds.js";

/** The part of one transaction another node coordinates that runs here. */
interface Visit {
  readonly ref: TransactionRef;
  readonly txn: Transaction;
  /** `savepoints[i]`, taken before call i, undoes it and every later call. */
  readonly savepoints: Array<() => void>;
  busy: number;
  timer?: NodeJS.Timeout;
  /** Prepared with its last call (the partitions): it holds nothing more here, and no call or prepare may follow, only the decision. */
  prepared?: readonly number[];
}

/**
 * This node as a participant of transactions other nodes coordinate
 * (DESIGN.md §9): their calls on actors hosted here run here, in order, on
 * drafts kept per transaction, the actors locked with the transaction's age
 * (wait-die, as in one process). Prepare hands the changed actors to their
 * partitions' prepared records (which then hold the locks until the
 * decision) and lets go of the ones only read. Unprepared state is bounded:
 * at most `maxOpenTransactions` at once, dropped `participantLeaseMs` after
 * the coordinator's last call, so a coordinator that dies before its
 * prepare does not keep actors locked here; a call that loses a wait-die
 * here drops the transaction at once (ParticipantLetGo: its coordinator
 * retries, and sends no abort). A later call or prepare of a dropped
 * transaction makes it retry (LockConflict).
 */
export class ParticipantNode implements Omit<RemoteTransactions, "run" | "prepare"> {
  readonly #visits = new Map<string, Visit>();

  readonly #bounds: TwoPhaseBounds;

  /** `hosted`: the partitions of this node (an abort that names none reaches them all). */
  constructor(
    private readonly engine: Engine,
    private readonly hosted: readonly number[],
    bounds?: Partial<TwoPhaseBounds>,
  ) {
    this.#bounds = twoPhaseBounds(bounds);
  }

  /** Unprepared transactions held here. */
  get open(): number {
    return this.#visits.size;
  }

  /**
   * Runs a call of `ref` here; `prepare`: then prepares it too, in the same exchange (the coordinator
   * expects no further call here), when every actor it holds here is changed and it scheduled nothing
   * (else the coordinator's prepare does it: read-only actors stay locked until the transaction's lock
   * point, which only the coordinator knows). The partitions prepared are answered with the response.
   */
  async run(ref: TransactionRef, seq: number, undoTo: number | undefined, call: Call, caller: Caller, prepare = false): Promise<RemoteRun> {
    let visit = this.#visits.get(ref.id);
    if (visit?.prepared) throw new LockConflict(`transaction ${ref.id} prepared here with its call ${visit.savepoints.length - 1}: no call follows`);
    if (!visit) {
      if (seq !== 0) throw new ParticipantLetGo(`this node let go of transaction ${ref.id} (a lost wait-die, or no call from its coordinator for ${this.#bounds.participantLeaseMs} ms)`);
      if (this.#visits.size >= this.#bounds.maxOpenTransactions) {
        throw new CallError(Code.ResourceExhausted, `this node holds ${this.#bounds.maxOpenTransactions} transactions of other nodes open: try again later`);
      }
      visit = { ref, txn: new Transaction(hostedSide(this.engine, this.engine.partition), ref.age, false), savepoints: [], busy: 0 };
      this.#visits.set(ref.id, visit);
    }
    undo(visit, undoTo);
    if (seq !== visit.savepoints.length) throw new LockConflict(`transaction ${ref.id}'s call ${seq} arrived here out of order`);
    if (seq >= this.#bounds.maxCallsPerTransaction) {
      throw new CallError(Code.ResourceExhausted, `a transaction makes at most ${this.#bounds.maxCallsPerTransaction} calls on another node than its coordinator's`);
    }
    visit.savepoints.push(visit.txn.savepoint());
    visit.busy++;
    clearTimeout(visit.timer);
    let response: Message;
    try {
      response = await this.#runCall(visit, call, caller);
    } catch (e) {
      // A lost wait-die: the coordinator retries from the top, so this node lets go at once
      // (and is not told to abort: a message less per retry, which two nodes under contention make often).
      if (!(e instanceof LockConflict)) throw e;
      this.#drop(visit);
      // Answered once the lock it lost changes hands: the coordinator's retry then likely gets it,
      // where a retry at once would lose again, a round trip each time.
      await lockHandOver(e, this.#bounds.lockHandOverMs);
      throw e instanceof ParticipantLetGo ? e : new ParticipantLetGo(e.message);
    } finally {
      visit.busy--;
      if (this.#visits.get(ref.id) === visit) this.#lease(visit);
    }
    if (!prepare || !preparable(visit) || this.#visits.get(ref.id) !== visit) return { response, prepared: [] };
    const prepared = await this.#prepare(visit);
    // What the coordinator's finish needs to know it was prepared here: bounded and leased as any visit.
    const marker: Visit = { ref, txn: visit.txn, savepoints: visit.savepoints, busy: 0, prepared };
    this.#visits.set(ref.id, marker);
    this.#lease(marker);
    return { response, prepared };
  }

  /**
   * Runs a call in `visit`'s transaction. One that lost a wait-die while the transaction holds nothing here
   * runs once more when that lock changes hands (within the wait its answer would make anyway: the
   * transaction waits for nothing longer than it did), instead of the coordinator retrying it from the top.
   */
  async #runCall(visit: Visit, call: Call, caller: Caller): Promise<Message> {
    try {
      return await runInTransaction(this.engine, visit.txn, call, caller);
    } catch (e) {
      const handedOver = e instanceof LockConflict && visit.txn.holdsNothing ? lockHandOver(e, this.#bounds.lockHandOverMs) : undefined;
      if (!handedOver) throw e;
      await handedOver;
    }
    try {
      return await runInTransaction(this.engine, visit.txn, call, caller);
    } catch (e) {
      // Lost again: answered at once (it waited for one hand-over already).
      throw e instanceof LockConflict && !(e instanceof ParticipantLetGo) ? new LockConflict(e.message) : e;
    }
  }

  /** Prepares what `ref` changed here, by partition (owned: the prepared records release the locks); the partitions prepared. */
  async prepare(ref: TransactionRef, undoTo: number | undefined): Promise<number[]> {
    const visit = this.#visits.get(ref.id);
    if (!visit) throw new LockConflict(`this node let go of transaction ${ref.id} before its prepare`);
    // Its state here cannot change any more (nothing to undo): the coordinator retries the transaction.
    if (visit.prepared) throw new LockConflict(`transaction ${ref.id} prepared here with its last call already`);
    undo(visit, undoTo);
    return this.#prepare(visit);
  }

  /** Hands what `visit` changed to its partitions' prepared records (which hold the locks from then on). */
  async #prepare(visit: Visit): Promise<number[]> {
    const { ref } = visit;
    this.#forget(visit);
    const all = visit.txn.handOver();
    const { scheduled, schedules } = visit.txn.effects;
    if (scheduled.length > 0 || (schedules?.length ?? 0) > 0) {
      release(all);
      throw failedPrecondition(
        "a transaction's calls on another node than its coordinator's cannot schedule tasks yet: schedule them from a call on the coordinator's node",
      );
    }
    const bySide = new Map<TransactionSide, Participant[]>();
    const readOnly: Participant[] = [];
    for (const p of all) {
      if (!p.dirty) {
        readOnly.push(p);
        continue;
      }
      const list = bySide.get(p.side) ?? [];
      list.push(p);
      bySide.set(p.side, list);
    }
    // Read-only: its growing phase is over, so letting go now keeps it serializable.
    release(readOnly);
    const sides = [...bySide.keys()];
    const votes = await Promise.allSettled(sides.map((side) => side.participant.prepare(ref, bySide.get(side)!)));
    const no = votes.find((v) => v.status === "rejected");
    if (!no) return sides.map((side) => side.partition);
    await Promise.all(
      sides.map((side, i) => (votes[i]!.status === "fulfilled" ? side.participant.abort(ref.id, ref.epoch).catch(() => {}) : release(bySide.get(side)!))),
    );
    throw no.reason;
  }

  async finish(txnId: string, epoch: number, commit: boolean, partitions: readonly number[]): Promise<void> {
    const visit = this.#visits.get(txnId);
    if (visit) {
      if (commit && !visit.prepared) throw failedPrecondition(`transaction ${txnId} was not prepared here: it cannot commit`);
      this.#drop(visit);
    }
    // An abort reaches every partition here: a prepare whose answer was lost named none to the coordinator.
    await Promise.all(
      (commit ? partitions : this.hosted).map((p) => {
        const { participant } = hostedSide(this.engine, p);
        return commit ? participant.commit(txnId, epoch) : participant.abort(txnId, epoch);
      }),
    );
  }

  decisionOf(coordinator: number, txnId: string): Promise<boolean> {
    return hostedSide(this.engine, coordinator).coordinator.decisionOf(txnId);
  }

  peekDecision(coordinator: number, txnId: string): Promise<boolean> {
    return hostedSide(this.engine, coordinator).coordinator.peekDecision(txnId);
  }

  /** Lets go of everything unprepared (the node stops). */
  stop(): void {
    for (const visit of [...this.#visits.values()]) this.#drop(visit);
  }

  #lease(visit: Visit): void {
    clearTimeout(visit.timer);
    visit.timer = setTimeout(() => {
      if (this.#visits.get(visit.ref.id) === visit && visit.busy === 0) this.#drop(visit);
    }, this.#bounds.participantLeaseMs);
    visit.timer.unref();
  }

  #forget(visit: Visit): void {
    clearTimeout(visit.timer);
    this.#visits.delete(visit.ref.id);
  }

  #drop(visit: Visit): void {
    this.#forget(visit);
    release(visit.txn.handOver());
  }
}

/** Whether `visit` may prepare with its call: nothing running, every actor it holds changed, nothing scheduled. */
function preparable(visit: Visit): boolean {
  const { scheduled, schedules } = visit.txn.effects;
  return visit.busy === 0 && scheduled.length === 0 && (schedules?.length ?? 0) === 0 && visit.txn.changedAll();
}

/** Undoes the calls from `undoTo` on (a savepoint the coordinator restored). */
function undo(visit: Visit, undoTo: number | undefined): void {
  if (undoTo === undefined || undoTo >= visit.savepoints.length) return;
  visit.savepoints[undoTo]!();
  visit.savepoints.length = undoTo;
}
