import type { RootDatabase } from "lmdb";

const ignore = (): void => {};

/**
 * When a write is on disk: call `of()` in the same synchronous run as the
 * write (`put`, `transaction`); its promise resolves once the write's own
 * lmdb-js batch, or any batch after it, is flushed. Only for an environment
 * with lmdb-js's overlapping sync (relaxed durability): without it, as
 * durable stores open, a write resolves once it is on disk already.
 *
 * Why: `root.flushed` is the flush of the NEWEST batch at the moment it is
 * asked for. Asked after awaiting the write's visibility (as the store
 * did), it is often a later batch's, so an early writer waited for writes
 * issued after it. Asked at once, the newest batch is the write's own
 * (lmdb-js starts a batch per event turn; every write of the turn joins
 * it) or, when a batch was cut mid-turn, one after it: never an earlier
 * one. And since lmdb-js may resolve batches' flushes out of order (seen
 * under load: a batch's resolvers fired after later batches'), while a
 * later batch on disk means every earlier one is (LMDB commits in order),
 * the first flush to resolve of any batch taken at or after the write
 * releases it: flushes taken in order, `seq` says which.
 *
 * A write whose commit fails is never released by its own batch (its
 * write promise rejects instead); a later flush releases its waiter.
 */
export class OwnFlush {
  #issued = 0;
  /** Every write issued before the flush taken as `seq` <= this is on disk. */
  #through = 0;
  #waiting: Array<{ readonly seq: number; readonly resolve: () => void }> = [];
  #head = 0;

  constructor(private readonly root: RootDatabase) {}

  of(): Promise<void> {
    const seq = ++this.#issued;
    const flushed = new Promise<void>((resolve) => this.#waiting.push({ seq, resolve }));
    this.root.flushed.then(() => this.#flushed(seq), ignore);
    return flushed;
  }

  #flushed(seq: number): void {
    if (seq <= this.#through) return;
    this.#through = seq;
    const waiting = this.#waiting;
    while (this.#head < waiting.length && waiting[this.#head]!.seq <= seq) waiting[this.#head++]!.resolve();
    // Drop the released head now and then (not per release: a shift per call is O(n)).
    if (this.#head > 1024 && this.#head * 2 > waiting.length) {
      this.#waiting = waiting.slice(this.#head);
      this.#head = 0;
    }
  }
}
