import type { IdempotencyRecord, KeyOwner, Store, StoredOutcome } from "../store/store.js";
import { checkSameCall, type CallIdentity } from "./idempotency.js";

/** A key with the call it names, for the commit that stores its outcome. */
export interface Keyed {
  readonly key: string;
  readonly identity: CallIdentity;
  /** The workflow run that issued the key (a re-run issues it again). */
  readonly owner?: KeyOwner;
}

/**
 * The idempotency protocol (DESIGN.md §4): a call under a key runs at most
 * once; a duplicate waits for the first, then replays its stored outcome;
 * a key used for another call is refused.
 */
export class IdempotencyTable {
  /** Keys whose first call is still running: duplicates wait for it. */
  readonly #pending = new Map<string, { identity: CallIdentity; settled: Promise<void> }>();

  constructor(private readonly store: Pick<Store, "getIdempotency">) {}

  async once<T>(
    key: string,
    identity: CallIdentity,
    replay: (outcome: StoredOutcome) => T | Promise<T>,
    run: (keyed: Keyed) => Promise<T>,
    owner?: KeyOwner,
  ): Promise<T> {
    for (;;) {
      const pending = this.#pending.get(key);
      if (pending) {
        checkSameCall(key, pending.identity, identity);
        await pending.settled;
        continue;
      }
      const stored = this.store.getIdempotency(key);
      if (stored) {
        checkSameCall(key, stored, identity);
        return replay(stored.outcome);
      }
      break;
    }
    let settle!: () => void;
    this.#pending.set(key, { identity, settled: new Promise<void>((r) => (settle = r)) });
    try {
      return await run(owner === undefined ? { key, identity } : { key, identity, owner });
    } finally {
      this.#pending.delete(key);
      settle();
    }
  }
}

/** The idempotency record of a call's outcome, if it has a key. */
export function outcomeRecord(keyed: Keyed | undefined, outcome: StoredOutcome): Array<{ key: string; record: IdempotencyRecord }> {
  if (!keyed) return [];
  const owner = keyed.owner === undefined ? {} : { owner: keyed.owner };
  return [{ key: keyed.key, record: { ...keyed.identity, outcome, ...owner } }];
}
