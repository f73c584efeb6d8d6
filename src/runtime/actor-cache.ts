import type { Message } from "@bufbuild/protobuf";
import { ActorLock } from "./actor-lock.js";

/** A state version, decoded. `state` is shared: nobody may mutate it. */
export interface Snapshot {
  readonly version: number;
  readonly state: Message;
}

/**
 * A run of versions built on one load from the store. When a commit in it
 * fails, the whole lineage is marked broken so the next writer reloads
 * instead of building on a version that never became durable.
 */
export interface Lineage {
  broken: boolean;
}

/**
 * An actor's new version that a prepared two-phase transaction holds
 * (DESIGN.md §9), until the participant applies or drops it. Its
 * coordinator may have replied already: a reader reads this version once
 * `committed` says the decision to commit is durable, the last durable one
 * otherwise.
 */
export interface PreparedVersion {
  /** The new version; null: the transaction deletes the actor. */
  readonly snapshot: Snapshot | null;
  /**
   * True once the participant applies it (its transaction committed), when its lock goes: writers build
   * on it from then on, even when the apply's first commit fails (it is retried until it lands).
   */
  readonly applying: boolean;
  /** Whether the transaction is committed; asks its coordinator (dooming nothing) while this participant does not know. */
  committed(): Promise<boolean>;
}

/** In-memory life of one actor: its snapshots and its writer queue. */
export class ActorCell {
  /** Its `Watchers.key`, made once (building and hashing it per call showed in profiles). */
  constructor(readonly key: string) {}

  /** Last durable version; `null` once the store said the actor is absent. */
  durable: Snapshot | null | undefined = undefined;
  /** Newest version, possibly not yet durable; writers build on it. */
  latest: (Snapshot & { readonly lineage: Lineage }) | null | undefined = undefined;
  /** Set while a prepared transaction holds a new version of it (and its lock). */
  prepared: PreparedVersion | undefined = undefined;
  /** Held by one writer, or one transaction, at a time. */
  readonly lock = new ActorLock();
  /** Writers queued, running or awaiting durability: a busy cell stays cached. */
  busy = 0;
  /** The cache's insertion count when this cell last moved to the newest end. */
  touched = 0;
}

/**
 * Bounded LRU of actor cells. Map iteration order is insertion order, so
 * re-inserting on access keeps the least recently used first. Busy cells are
 * never evicted: their pending writes must see the same cell.
 *
 * A cell in the newer half of the capacity is not moved on access (a Map
 * delete and set per call showed in the writer's profile): fewer than
 * capacity/2 cells were inserted after it, and eviction (only once the
 * cache is full) takes the oldest first, so it stays in the newer half of
 * a full cache, no nearer eviction than any cell accessed since. (Half of
 * the SIZE moved every cell of a cache far from full: 1,000 actors called
 * in turn each moved on every call.)
 */
export class ActorCache {
  /** Every cell, least recently moved first (the LRU order), by `Watchers.key`. */
  readonly #cells = new Map<string, ActorCell>();
  /** The same cells by state type, then actor id: a call's lookup builds no key string (the concatenation and its hashing showed in the profile). */
  readonly #byType = new Map<string, Map<string, ActorCell>>();
  /** Insertions so far (a cell's `touched` is this at its last one). */
  #insertions = 0;

  readonly #half: number;

  constructor(private readonly capacity: number) {
    this.#half = capacity / 2;
  }

  get size(): number {
    return this.#cells.size;
  }

  /** The cell under a `Watchers.key`, if cached; never loads or evicts. */
  peek(key: string): ActorCell | undefined {
    return this.#cells.get(key);
  }

  cell(stateType: string, actorId: string): ActorCell {
    let ofType = this.#byType.get(stateType);
    if (!ofType) this.#byType.set(stateType, (ofType = new Map()));
    let cell = ofType.get(actorId);
    if (cell) {
      if (this.#insertions - cell.touched < this.#half) return cell;
      this.#cells.delete(cell.key);
    } else {
      cell = new ActorCell(`${stateType}\u0000${actorId}`);
      this.#evict();
      ofType.set(actorId, cell);
    }
    cell.touched = ++this.#insertions;
    this.#cells.set(cell.key, cell);
    return cell;
  }

  #evict(): void {
    if (this.#cells.size < this.capacity) return;
    for (const [key, cell] of this.#cells) {
      if (this.#cells.size < this.capacity) return;
      if (cell.busy !== 0) continue;
      this.#cells.delete(key);
      // The type name has no NUL; an actor id may.
      const at = key.indexOf("\u0000");
      this.#byType.get(key.slice(0, at))?.delete(key.slice(at + 1));
    }
  }
}
