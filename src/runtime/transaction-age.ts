/**
 * A transaction's age for wait-die (actor-lock.ts), kept across its
 * retries. Transactions of different partitions and nodes lock the same
 * actors once two-phase commit spans partitions, so ages must be unique
 * and ordered cluster-wide: (time, origin, seq), where the origin is the
 * coordinator's partition (unique across nodes) and seq orders the ages one
 * origin takes within a millisecond.
 */
export interface TransactionAge {
  readonly time: number;
  readonly origin: number;
  readonly seq: number;
}

/** Whether `a` is younger than `b` (began later): a younger transaction never waits for an older one. */
export function isYounger(a: TransactionAge, b: TransactionAge): boolean {
  if (a.time !== b.time) return a.time > b.time;
  if (a.origin !== b.origin) return a.origin > b.origin;
  return a.seq > b.seq;
}

/** Hands out the ages of one partition's transactions, never going back when the wall clock does. */
export class TransactionAges {
  #time = 0;
  #seq = 0;

  constructor(
    private readonly origin: number,
    private readonly now: () => number = Date.now,
  ) {}

  next(): TransactionAge {
    const now = this.now();
    if (now > this.#time) {
      this.#time = now;
      this.#seq = 0;
    } else {
      this.#seq++;
    }
    return { time: this.#time, origin: this.origin, seq: this.#seq };
  }
}
