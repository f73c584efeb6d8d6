import { isYounger, type TransactionAge } from "./transaction-age.js";

/** A transaction's lock identity: its age decides who waits (wait-die). */
export interface LockOwner {
  /** Taken at the transaction's first attempt, unique across partitions and nodes. */
  readonly age: TransactionAge;
}

/** Thrown to a younger transaction that must not wait: it retries. */
export class LockConflict extends Error {
  override readonly name = "LockConflict";

  /** `released`: resolves when the lock it lost changes hands, the moment a retry can get it (none: a conflict on another node). */
  constructor(
    message: string,
    readonly released?: Promise<void>,
  ) {
    // A retry signal, not a fault: capturing a stack for it showed in the cross-node profile.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
  }
}

interface Waiter {
  readonly owner: LockOwner | undefined;
  /** A transaction that held no lock when it asked: it waits for anyone, as a plain writer does. */
  readonly holdsNothing: boolean;
  readonly grant: () => void;
  readonly refuse: (e: Error) => void;
}

/**
 * The exclusive lock of one actor, granted in FIFO order. Plain writers
 * hold it briefly and never wait while holding it; transactions hold it
 * until they commit, and avoid deadlock by wait-die: a transaction waits
 * only for a younger one (or a plain writer), never for an older one, and
 * each hand-over refuses the waiting transactions younger than the new
 * holder, so waits-for edges always point from older to younger. A
 * transaction that holds no lock yet waits for anyone, as a plain writer
 * does: nobody waits for it, so no cycle can pass through it (a retry
 * queues for its first actor instead of dying and racing for it again).
 */
export class ActorLock {
  #held = false;
  #holder: LockOwner | undefined;
  readonly #waiters: Waiter[] = [];
  /** Resolved at the next release, made only when a refused transaction waits for it. */
  #next: { readonly released: Promise<void>; readonly resolve: () => void } | undefined;

  get idle(): boolean {
    return !this.#held && this.#waiters.length === 0;
  }

  /** Takes the lock if it is free (no promise, no wait): a plain writer's common case. */
  tryAcquire(): boolean {
    if (this.#held) return false;
    this.#held = true;
    this.#holder = undefined;
    return true;
  }

  acquire(owner?: LockOwner, holdsNothing = false): Promise<void> {
    if (!this.#held) {
      this.#held = true;
      this.#holder = owner;
      return Promise.resolve();
    }
    if (owner && !holdsNothing && this.#holder && isYounger(owner.age, this.#holder.age)) {
      return Promise.reject(new LockConflict("an older transaction holds this actor", this.#released()));
    }
    return new Promise<void>((grant, refuse) => this.#waiters.push({ owner, holdsNothing, grant, refuse }));
  }

  release(): void {
    const changed = this.#next;
    this.#next = undefined;
    this.#handOver();
    changed?.resolve();
  }

  #released(): Promise<void> {
    if (!this.#next) {
      let resolve!: () => void;
      const released = new Promise<void>((r) => (resolve = r));
      this.#next = { released, resolve };
    }
    return this.#next.released;
  }

  #handOver(): void {
    const next = this.#waiters.shift();
    if (!next) {
      this.#held = false;
      this.#holder = undefined;
      return;
    }
    this.#holder = next.owner;
    if (next.owner) {
      const holder = next.owner;
      for (let i = this.#waiters.length - 1; i >= 0; i--) {
        const w = this.#waiters[i]!;
        if (w.owner && !w.holdsNothing && isYounger(w.owner.age, holder.age)) {
          this.#waiters.splice(i, 1);
          w.refuse(new LockConflict("an older transaction took this actor", this.#released()));
        }
      }
    }
    next.grant();
  }
}

/** The longest a retry waits for the lock it lost to change hands (a holder prepared for another node may hold it long). */
const RETRY_WAIT_MAX_MS = 50;

/** Resolves when the lock `conflict` lost changes hands (at most `maxMs`); undefined when that is not known here. */
export function lockHandOver(conflict: LockConflict, maxMs = RETRY_WAIT_MAX_MS): Promise<void> | undefined {
  if (!conflict.released) return undefined;
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([conflict.released, new Promise<void>((r) => (timer = setTimeout(r, maxMs)))]).finally(() => clearTimeout(timer));
}
