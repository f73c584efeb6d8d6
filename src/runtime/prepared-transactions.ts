import { create, fromBinary } from "@bufbuild/protobuf";
import type { PreparedRecord, Store } from "../store/store.js";
import type { Logger } from "../api/logger.js";
import type { StateSpec } from "../api/spec.js";
import { failedPrecondition, Unavailable } from "../api/errors.js";
import type { PreparedVersion } from "./actor-cache.js";
import type { ActorStates, Draft } from "./actor-states.js";
import { encodeState } from "./state-encoder.js";
import type { TransactionCoordinator, TransactionParticipant, TransactionRef, TwoPhasePoint } from "./transaction-side.js";

const RETRY_MAX_MS = 2_000;
/** Tries at asking a prepared transaction's coordinator for a reader before it answers UNAVAILABLE. */
const READER_ASKS = 4;

interface Entry {
  readonly record: PreparedRecord;
  readonly drafts: readonly Draft[];
  /** Recovered after a restart (its coordinator is asked at `resume`). */
  readonly recovered?: boolean;
  /** Known committed here: its decision arrived, or a reader's question was answered so. */
  committed?: boolean;
  /** What its actors' `ActorCell.prepared` are, by draft (a later transaction's replace them once the locks went). */
  marks?: readonly PreparedVersion[];
  settling?: Promise<void>;
  timer?: NodeJS.Timeout;
}

export interface PreparedTransactionsDeps {
  readonly store: Store;
  readonly states: ActorStates;
  readonly logger: Logger;
  /** The spec of a state type (recovery decodes prepared versions with it); undefined if none is served. */
  specOf(typeName: string): StateSpec | undefined;
  /** The coordinator partition's answerer; throws when it cannot be reached (asked again later). */
  coordinatorOf(partition: number): TransactionCoordinator;
  testPoint(point: TwoPhasePoint): void;
  /** How long a prepared transaction blocks its actors before this participant asks the coordinator itself (two-phase-bounds.ts). */
  readonly askCoordinatorAfterMs: number;
}

/**
 * A partition as a two-phase commit participant (DESIGN.md §9). `prepare`
 * stores the new versions in a prepared record, in one LMDB commit, and
 * from then on holds the actors' locks: writers wait, readers read the old
 * versions until the transaction is known committed (they ask its
 * coordinator, which replies at its decision, before this applies it). The
 * coordinator's decision applies them (one commit: the states and the
 * record's removal; the locks go at its issue) or drops them. After a
 * restart every prepared record re-locks its actors before any call is
 * served, and the participant asks the coordinator (no decision: abort).
 * A prepared transaction not decided within `askCoordinatorAfterMs` is
 * asked about too, so a dead coordinator does not block its actors forever.
 */
export class PreparedTransactions implements TransactionParticipant {
  readonly #entries = new Map<string, Entry>();
  /** The newest epoch each coordinator partition named: an older one is a stale owner (fencing). */
  readonly #epochs = new Map<number, number>();
  #stopped = false;

  constructor(private readonly deps: PreparedTransactionsDeps) {}

  /** How many transactions are prepared here and not yet applied or dropped. */
  get size(): number {
    return this.#entries.size;
  }

  async prepare(txn: TransactionRef, drafts: readonly Draft[]): Promise<void> {
    this.#checkEpoch(txn.coordinator, txn.epoch);
    const record: PreparedRecord = {
      txnId: txn.id,
      coordinator: txn.coordinator,
      epoch: txn.epoch,
      age: txn.age,
      states: drafts.map(stateWrite),
    };
    const entry: Entry = { record, drafts };
    this.#entries.set(txn.id, entry);
    this.#mark(entry);
    try {
      await this.deps.store.commit({ states: [], idempotency: [], prepared: [record] });
    } catch (e) {
      this.#entries.delete(txn.id);
      this.#unmark(entry);
      throw e;
    }
    this.deps.testPoint("participant-after-prepare");
    this.#askLater(entry, this.deps.askCoordinatorAfterMs);
  }

  commit(txnId: string, epoch: number): Promise<void> {
    return this.#settle(txnId, epoch, true);
  }

  abort(txnId: string, epoch: number): Promise<void> {
    return this.#settle(txnId, epoch, false);
  }

  /**
   * Re-locks the actors of every prepared record (at open, before any call
   * is served: locks are free then, so each is taken at once). `resume`
   * asks their coordinators.
   */
  relock(): void {
    for (const record of this.deps.store.twoPhase.preparedRecords()) {
      this.#seen(record.coordinator, record.epoch);
      const drafts: Draft[] = [];
      for (const w of record.states) {
        const spec = this.deps.specOf(w.stateType);
        if (!spec) {
          this.deps.logger.error({ txnId: record.txnId, stateType: w.stateType }, "a prepared transaction names a state type this application does not serve: left prepared");
          break;
        }
        const cell = this.deps.states.cellOf(spec, w.actorId);
        cell.busy++;
        void cell.lock.acquire({ age: record.age });
        const base = this.deps.states.latestOf(spec, w.actorId, cell);
        const draft = w.state ? fromBinary(spec.state, w.state.bytes) : create(spec.state);
        drafts.push({ spec, actorId: w.actorId, cell, base, draft, deleted: w.state === null });
      }
      if (drafts.length < record.states.length) continue;
      const entry: Entry = { record, drafts, recovered: true };
      this.#entries.set(record.txnId, entry);
      this.#mark(entry);
    }
  }

  /** Asks the coordinator of every recovered prepared transaction (in the background, until answered). */
  resume(): void {
    for (const entry of this.#entries.values()) if (entry.recovered) this.#askLater(entry, 0);
  }

  stop(): void {
    this.#stopped = true;
    for (const entry of this.#entries.values()) clearTimeout(entry.timer);
  }

  #settle(txnId: string, epoch: number, commit: boolean): Promise<void> {
    const entry = this.#entries.get(txnId);
    if (!entry) return Promise.resolve(); // applied or dropped already, or never prepared
    if (epoch < entry.record.epoch) return Promise.reject(this.#stale(entry.record.coordinator, epoch));
    this.#seen(entry.record.coordinator, epoch);
    clearTimeout(entry.timer);
    if (commit) entry.committed = true;
    if (entry.settling) return entry.settling;
    const settled = commit ? this.#apply(entry) : this.#drop(entry);
    // The locks go once the apply is issued, as after a one-partition commit: later writers build on
    // its versions (ActorStates.latestOf), which commit first.
    if (commit) for (const d of entry.drafts) d.cell.lock.release();
    return (entry.settling = settled.then(() => {
      this.#entries.delete(txnId);
      // After the apply's durable versions: a reader finds one or the other.
      this.#unmark(entry);
      for (const d of entry.drafts) {
        if (!commit) d.cell.lock.release();
        d.cell.busy--;
      }
    }));
  }

  /**
   * The decision is durable: the states must follow, so a failed commit is retried. The first try is
   * issued at once (its versions are `latest` for later writers then); a writer that builds on them
   * meanwhile fails with them (a broken lineage), and the next builds on them again until they land.
   */
  async #apply(entry: Entry): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        // The prepared record's bytes are the drafts' encoding: not made again.
        const drafts = entry.drafts.map((d, i) => ({ ...d, bytes: entry.record.states[i]?.state?.bytes }));
        return await this.deps.states.commitDrafts(drafts, [], [], [], { unprepared: [entry.record.txnId] });
      } catch (e) {
        if (this.#stopped) throw e;
        this.deps.logger.warn({ err: e, txnId: entry.record.txnId, attempt }, "applying a committed transaction failed; retrying");
        await pause(attempt);
      }
    }
  }

  /** Presumed abort: losing this removal only makes recovery ask again, and hear "abort". */
  async #drop(entry: Entry): Promise<void> {
    await this.deps.store.commit({ states: [], idempotency: [], unprepared: [entry.record.txnId] }, { visibleOnly: true }).catch((e: unknown) => {
      this.deps.logger.warn({ err: e, txnId: entry.record.txnId }, "removing an aborted prepared record failed; recovery drops it");
    });
  }

  /**
   * Shows readers the prepared versions (ActorCell.prepared): the coordinator replies once its
   * decision is durable, before this participant applies it, so a reader must learn the decision.
   */
  #mark(entry: Entry): void {
    const committed = () => this.#committedForReader(entry);
    entry.marks = entry.drafts.map((d) => {
      const mark: PreparedVersion = {
        snapshot: d.deleted ? null : { version: (d.base?.version ?? 0) + 1, state: d.draft },
        // Its apply was issued (the locks went then).
        get applying() {
          return entry.committed === true && entry.settling !== undefined;
        },
        committed,
      };
      return (d.cell.prepared = mark);
    });
  }

  #unmark(entry: Entry): void {
    entry.drafts.forEach((d, i) => {
      if (d.cell.prepared === entry.marks?.[i]) d.cell.prepared = undefined;
    });
  }

  /**
   * Whether a reader reads `entry`'s versions: once known committed here, else the coordinator's
   * answer. Each reader asks for itself: an answer to an earlier question may predate the reply.
   */
  async #committedForReader(entry: Entry): Promise<boolean> {
    const { txnId, coordinator } = entry.record;
    for (let attempt = 0; !entry.committed; attempt++) {
      try {
        if (await this.deps.coordinatorOf(coordinator).peekDecision(txnId)) entry.committed = true;
        return entry.committed === true;
      } catch (e) {
        if (attempt + 1 >= READER_ASKS || this.#stopped) {
          throw new Unavailable(`an actor it reads is held by prepared transaction ${txnId}, whose coordinator (partition ${coordinator}) cannot tell yet whether it committed: try again`, { cause: e });
        }
        await pause(attempt);
      }
    }
    return true;
  }

  #askLater(entry: Entry, ms: number): void {
    clearTimeout(entry.timer);
    entry.timer = setTimeout(() => void this.#ask(entry), ms);
    entry.timer.unref();
  }

  async #ask(entry: Entry, attempt = 0): Promise<void> {
    if (this.#stopped || entry.settling) return;
    const { txnId, coordinator, epoch } = entry.record;
    try {
      const committed = await this.deps.coordinatorOf(coordinator).decisionOf(txnId);
      await this.#settle(txnId, epoch, committed);
    } catch (e) {
      if (this.#stopped) return;
      this.deps.logger.warn({ err: e, txnId, coordinator }, "asking the coordinator of a prepared transaction failed; asking again");
      await pause(attempt);
      return this.#ask(entry, attempt + 1);
    }
  }

  #checkEpoch(coordinator: number, epoch: number): void {
    const newest = this.#epochs.get(coordinator) ?? 0;
    if (epoch < newest) throw this.#stale(coordinator, epoch);
    this.#seen(coordinator, epoch);
  }

  #seen(coordinator: number, epoch: number): void {
    if (epoch > (this.#epochs.get(coordinator) ?? 0)) this.#epochs.set(coordinator, epoch);
  }

  #stale(coordinator: number, epoch: number): Error {
    return failedPrecondition(
      `partition ${coordinator}'s coordinator at epoch ${epoch} is stale (a newer owner, epoch ${this.#epochs.get(coordinator)}, spoke here): refused`,
    );
  }
}

function stateWrite(d: Draft): PreparedRecord["states"][number] {
  const baseVersion = d.base?.version ?? 0;
  return {
    stateType: d.spec.typeName,
    actorId: d.actorId,
    baseVersion,
    state: d.deleted ? null : { version: baseVersion + 1, bytes: encodeState(d.spec.state, d.draft) },
  };
}

function pause(attempt: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.min(RETRY_MAX_MS, 20 * 2 ** attempt) * (0.5 + Math.random() / 2)).unref());
}
