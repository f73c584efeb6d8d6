import { StoreUnavailable } from "../api/errors.js";
import type { Store } from "../store/store.js";
import type { Clock, Timer } from "./clock.js";
import type { Logger } from "../api/logger.js";

/** How long ended tasks and idempotency records are kept (ms); undefined: forever. */
export interface RetentionPolicy {
  readonly tasksMs: number | undefined;
  readonly idempotencyMs: number | undefined;
}

/** Records of each kind deleted per commit: small, so a sweep never holds up other commits for long. */
export const RETENTION_BATCH = 100;
/** The longest between sweeps: a record goes at most this long after its retention ends. */
const MAX_SWEEP_INTERVAL_MS = 60_000;

/**
 * Deletes what retention no longer keeps, in the background: every so often
 * (the clock's time, so tests move it forward), expired records go in small
 * commits, one after another, with other work in between. The store's
 * expiry index says what is expired, so a sweep cut off by a stop or a
 * crash goes on from there after a restart.
 */
export class RetentionSweeper {
  #timer: Timer | undefined;
  #sweep: Promise<void> = Promise.resolve();
  #stopped = false;
  #sweeping = false;
  readonly #deleted = { tasks: 0, idempotency: 0 };

  constructor(
    private readonly host: { readonly clock: Clock; readonly store: Pick<Store, "deleteExpired">; readonly logger: Logger },
    private readonly policy: RetentionPolicy,
  ) {}

  /** Index entries swept so far (records deleted, or found not expired after all). */
  get swept(): { readonly tasks: number; readonly idempotency: number } {
    return { ...this.#deleted };
  }

  get enabled(): boolean {
    return this.policy.tasksMs !== undefined || this.policy.idempotencyMs !== undefined;
  }

  /** Sweeps at once (what expired while the server was down), then every so often. */
  start(): void {
    if (this.enabled) this.#arm(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.host.clock.clearTimer(this.#timer);
    await this.#sweep;
  }

  // Always exactly one timer while started (tests count the clock's timers):
  // the next one is set as this one fires; a sweep still running skips a turn.
  #arm(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = this.host.clock.setTimer(() => {
      this.#arm(this.#interval());
      if (this.#sweeping) return;
      this.#sweeping = true;
      this.#sweep = this.#run().finally(() => (this.#sweeping = false));
    }, delayMs);
  }

  #interval(): number {
    const periods = [this.policy.tasksMs, this.policy.idempotencyMs].filter((p) => p !== undefined);
    return Math.max(10, Math.min(MAX_SWEEP_INTERVAL_MS, ...periods));
  }

  async #run(): Promise<void> {
    const { clock, store } = this.host;
    const { tasksMs, idempotencyMs } = this.policy;
    try {
      for (let more = true; more && !this.#stopped; ) {
        const now = clock.now();
        const result = await store.deleteExpired({
          tasksEndedBefore: tasksMs === undefined ? undefined : now - tasksMs,
          idempotencyStoredBefore: idempotencyMs === undefined ? undefined : now - idempotencyMs,
          batch: RETENTION_BATCH,
        });
        this.#deleted.tasks += result.tasks;
        this.#deleted.idempotency += result.idempotency;
        more = result.more;
        // Other work goes first between batches.
        if (more) await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (e) {
      if (e instanceof StoreUnavailable) return; // logged once by the store's health; the next sweep tries again
      this.host.logger.error({ err: e }, "retention: expired records were not deleted");
    }
  }
}
