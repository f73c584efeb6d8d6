import { create, fromBinary, type Message } from "@bufbuild/protobuf";
import { CommitConflictError, type CommitBatch, type ScheduleRecord, type Store, type TaskRecord } from "../store/store.js";
import { ActorCache, type ActorCell, type Snapshot } from "./actor-cache.js";
import { publishCommit, publishDeletion } from "./commit-channel.js";
import { StoreUnavailable, internal, notFound } from "../api/errors.js";
import { recordRead } from "./read-tracking.js";
import type { StateSpec } from "../api/spec.js";
import type { StoreHealth } from "./store-health.js";
import { spawnedEvents } from "./tasks/task-events.js";
import { Watchers } from "./watchers.js";
import { encodeState } from "./state-encoder.js";

/** A draft of one actor's next version, for `commitDrafts`. */
export interface Draft {
  readonly spec: StateSpec;
  readonly actorId: string;
  readonly cell: ActorCell;
  readonly base: (ActorCell["latest"] & {}) | null;
  readonly draft: Message;
  /** The actor is deleted instead (`ctx.deleteActor()`); `draft` is dropped. */
  readonly deleted?: boolean;
  /** `draft`'s bytes when already encoded (a prepared record's): not encoded again. */
  readonly bytes?: Uint8Array;
}

/** What a durable commit made due: the tasks and cron schedules it stored. */
export interface Committed {
  readonly tasks: readonly TaskRecord[];
  readonly schedules: readonly ScheduleRecord[];
}

/**
 * Actor states and the commit path: the one way a state is loaded (cached,
 * LRU) and the one way new versions become durable. A durable commit wakes
 * the actors' watchers and then tells its subscribers (the dispatcher, the
 * cron scheduler) what it stored; it arms nothing itself.
 */
export class ActorStates {
  readonly #cache: ActorCache;
  readonly #committed = new Set<(c: Committed) => void>();

  constructor(
    private readonly store: Store,
    private readonly health: StoreHealth,
    private readonly watchers: Watchers,
    maxCachedActors: number,
  ) {
    this.#cache = new ActorCache(maxCachedActors);
  }

  get cachedActors(): number {
    return this.#cache.size;
  }

  /** Subscribes to durable commits that stored tasks or schedules. */
  onCommitted(listener: (c: Committed) => void): void {
    this.#committed.add(listener);
  }

  cellOf(spec: StateSpec, actorId: string): ActorCell {
    return this.#cache.cell(spec.typeName, actorId);
  }

  #durable(spec: StateSpec, actorId: string, cell: ActorCell): Snapshot | null {
    if (cell.durable === undefined) cell.durable = this.#load(spec, actorId);
    return cell.durable;
  }

  /**
   * What readers see of an actor (null: absent): the last durable snapshot,
   * unless a prepared transaction holds the actor and is committed: then its
   * new version, which the participant has not applied yet (the coordinator
   * replied at its decision). Asking whether it is committed makes this a
   * promise; an actor not prepared is read at once.
   */
  visibleOf(spec: StateSpec, actorId: string): Snapshot | null | Promise<Snapshot | null> {
    return this.#visible(spec, actorId, this.cellOf(spec, actorId));
  }

  #visible(spec: StateSpec, actorId: string, cell: ActorCell): Snapshot | null | Promise<Snapshot | null> {
    const durable = this.#durable(spec, actorId, cell);
    const prepared = cell.prepared;
    if (!prepared) return durable;
    return prepared.committed().then((committed) => {
      // Applied or dropped meanwhile: its decision may be forgotten already ("not committed"), so look again.
      if (cell.prepared !== prepared) return this.visibleOf(spec, actorId);
      return committed ? prepared.snapshot : durable;
    });
  }

  /** The state a reader sees (`visibleOf`), recorded for `until`; NOT_FOUND if absent. */
  readState(spec: StateSpec, actorId: string): Message | Promise<Message> {
    const cell = this.cellOf(spec, actorId);
    // The durable version, whatever is read: a watcher wakes again once a prepared one is applied.
    recordRead(cell.key, this.#durable(spec, actorId, cell)?.version ?? 0);
    const visible = this.#visible(spec, actorId, cell);
    if (visible instanceof Promise) return visible.then((s) => s?.state ?? this.absent(spec, actorId));
    return visible?.state ?? this.absent(spec, actorId);
  }

  /** Durable version of an actor (0: absent), without loading its state. */
  durableVersion(key: string): number {
    const cell = this.#cache.peek(key);
    if (cell?.durable !== undefined) return cell.durable?.version ?? 0;
    const [stateType, actorId] = key.split("\u0000") as [string, string];
    return this.store.getState(stateType, actorId)?.version ?? 0;
  }

  absent(spec: StateSpec, actorId: string): Message {
    if (spec.defaultConstructible) return create(spec.state);
    throw notFound(`${spec.typeName} ${JSON.stringify(actorId)} does not exist; call a constructor first`);
  }

  /**
   * The newest state writers build on; reloaded after a failed commit, unless a committed transaction's
   * apply is pending (its first commit failed and is retried): its version, which lands first.
   */
  latestOf(spec: StateSpec, actorId: string, cell: ActorCell): (ActorCell["latest"] & {}) | null {
    if (cell.latest === undefined || cell.latest?.lineage.broken) {
      const loaded = this.#load(spec, actorId);
      if (cell.durable === undefined) cell.durable = loaded;
      const newest = cell.prepared?.applying ? cell.prepared.snapshot : loaded;
      cell.latest = newest && { version: newest.version, state: newest.state, lineage: { broken: false } };
    }
    return cell.latest;
  }

  /**
   * Issues one atomic commit of new versions of the given actors (plus
   * idempotency records and tasks) and publishes them to later writers at
   * once; resolves when durable, when readers and watchers see them.
   */
  commitDrafts(
    drafts: readonly Draft[],
    idempotency: CommitBatch["idempotency"],
    scheduled: readonly TaskRecord[],
    schedules: readonly ScheduleRecord[] = [],
    /** What else goes in the commit: a deletion's tasks and schedules, two-phase commit's records. */
    deletion?: Pick<CommitBatch, "tasks" | "events" | "deletedSchedules" | "unprepared" | "decided">,
  ): Promise<void> {
    const published = drafts.map(({ spec, actorId, cell, base, draft, deleted, bytes }) => {
      const snapshot: Snapshot = { version: (base?.version ?? 0) + 1, state: draft };
      const lineage = base?.lineage ?? { broken: false };
      // Later writers see a deleted actor absent at once, as they see new versions.
      // (A literal, not a spread of `snapshot`: the spread showed in the writer's profile.)
      cell.latest = deleted ? null : { version: snapshot.version, state: draft, lineage };
      const state = deleted ? null : { version: snapshot.version, bytes: bytes ?? encodeState(spec.state, draft) };
      return { spec, actorId, cell, snapshot, lineage, deleted, write: { stateType: spec.typeName, actorId, baseVersion: base?.version ?? 0, state } };
    });
    // A plain writer schedules nothing and deletes nothing: no arrays built for it.
    const plain = scheduled.length === 0 && !deletion;
    const batch: CommitBatch = {
      states: published.map((p) => p.write),
      idempotency,
      tasks: plain ? scheduled : [...scheduled, ...(deletion?.tasks ?? [])],
      schedules,
      events: plain ? [] : [...spawnedEvents(scheduled), ...(deletion?.events ?? [])],
      deletedSchedules: deletion?.deletedSchedules,
      unprepared: deletion?.unprepared,
      decided: deletion?.decided,
    };
    return this.store.commit(batch).then(
      () => {
        for (const { spec, actorId, cell, snapshot, deleted } of published) {
          if (deleted) {
            cell.durable = null;
            publishDeletion(spec.typeName, actorId);
          } else {
            if (!cell.durable || cell.durable.version < snapshot.version) cell.durable = snapshot;
            publishCommit(spec.typeName, actorId, snapshot.version, snapshot.state);
          }
          this.watchers.committed(cell.key, deleted ? 0 : snapshot.version);
        }
        if (scheduled.length > 0 || schedules.length > 0) this.committed({ tasks: scheduled, schedules });
      },
      (err: unknown) => {
        for (const p of published) {
          p.lineage.broken = true;
          // The actor is still there: the next writer loads it again.
          if (p.deleted && p.cell.latest === null) p.cell.latest = undefined;
        }
        if (err instanceof StoreUnavailable) throw err;
        // Only a refused commit breaks a lineage: this one built on it.
        if (err instanceof CommitConflictError) throw new StoreUnavailable(`an earlier write it built on was refused (${this.health.fault?.message ?? "store fault"})`, err);
        throw internal(`commit failed, nothing was written: ${String(err)}`);
      },
    );
  }

  /** Tells subscribers what a durable commit stored (also for commits made elsewhere, e.g. a spawn). */
  committed(c: Committed): void {
    for (const listener of this.#committed) listener(c);
  }

  #load(spec: StateSpec, actorId: string): Snapshot | null {
    const stored = this.store.getState(spec.typeName, actorId);
    return stored ? { version: stored.version, state: fromBinary(spec.state, stored.bytes) } : null;
  }
}
