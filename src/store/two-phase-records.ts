import type { Database, RootDatabase } from "lmdb";
import { CommitConflictError, type CommitBatch, type DecisionRecord, type PreparedRecord, type StoredState, type TwoPhaseReads } from "./store.js";

/**
 * Two-phase commit's records in a partition's environment (DESIGN.md §9):
 * what it prepared as a participant and what it decided as a coordinator.
 * Written inside the store's commits, so a prepare, a decision or an
 * application is one atomic LMDB commit with everything else of its batch.
 */
export class TwoPhaseRecords implements TwoPhaseReads {
  private readonly prepared: Database<PreparedRecord, string>;
  private readonly decided: Database<DecisionRecord, string>;

  constructor(
    root: RootDatabase,
    private readonly states: Database<StoredState, [string, string]>,
  ) {
    this.prepared = root.openDB<PreparedRecord, string>({ name: "prepared" });
    this.decided = root.openDB<DecisionRecord, string>({ name: "decisions" });
  }

  getPrepared(txnId: string): PreparedRecord | undefined {
    return this.prepared.get(txnId);
  }

  *preparedRecords(): Iterable<PreparedRecord> {
    for (const { value } of this.prepared.getRange()) yield value;
  }

  getDecision(txnId: string): DecisionRecord | undefined {
    return this.decided.get(txnId);
  }

  *decisions(): Iterable<DecisionRecord> {
    for (const { value } of this.decided.getRange()) yield value;
  }

  /**
   * Inside a write transaction, before any other write of the batch: its
   * records, unless a prepared actor's stored version moved (nothing written).
   */
  write(batch: CommitBatch): CommitConflictError | undefined {
    for (const record of batch.prepared ?? []) {
      for (const w of record.states) {
        if ((this.states.get([w.stateType, w.actorId])?.version ?? 0) !== w.baseVersion) return new CommitConflictError(w.stateType, w.actorId);
      }
    }
    for (const record of batch.prepared ?? []) this.prepared.put(record.txnId, record);
    for (const txnId of batch.unprepared ?? []) this.prepared.remove(txnId);
    for (const record of batch.decided ?? []) this.decided.put(record.txnId, record);
    for (const txnId of batch.forgotten ?? []) this.decided.remove(txnId);
    return undefined;
  }
}
