import { parseDuration } from "./duration.js";

/** An armed timer; only the clock that made it can clear it. */
export interface Timer {
  readonly __brand: "cairn.Timer";
}

/**
 * Where the runtime reads the time and sets timers: task due times, Loop
 * and backoff run times, sleep wake times and cron schedules all go through
 * one clock, so tests can move time forward instead of waiting for it.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` once `delayMs` of this clock's time has passed. */
  setTimer(fn: () => void, delayMs: number): Timer;
  clearTimer(timer: Timer | undefined): void;
}

/** Node's setTimeout fires at once for delays above this. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** The real time and Node's timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer: (fn, delayMs) => setTimeout(fn, Math.min(MAX_TIMEOUT_MS, Math.max(0, delayMs))) as unknown as Timer,
  clearTimer: (timer) => clearTimeout(timer as unknown as NodeJS.Timeout | undefined),
};

interface VirtualTimer {
  readonly due: number;
  /** Breaks ties between timers due at the same time: first set, first fired. */
  readonly seq: number;
  readonly fn: () => void;
  real: NodeJS.Timeout | undefined;
}

/**
 * A clock for tests: real time plus an offset that only grows. Timers run on
 * real time too (an un-advanced clock behaves like the system clock), and
 * `advance` fires at once every timer its jump made due.
 */
export class AdjustableClock implements Clock {
  #offset = 0;
  #seq = 0;
  readonly #timers = new Set<VirtualTimer>();

  now(): number {
    return Date.now() + this.#offset;
  }

  /** Timers set and not yet fired or cleared: what is waiting on this clock. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** How far ahead of real time this clock is, in ms. */
  get offset(): number {
    return this.#offset;
  }

  setTimer(fn: () => void, delayMs: number): Timer {
    const timer: VirtualTimer = { due: this.now() + Math.max(0, delayMs), seq: this.#seq++, fn, real: undefined };
    this.#timers.add(timer);
    this.#arm(timer);
    return timer as unknown as Timer;
  }

  clearTimer(timer: Timer | undefined): void {
    const t = timer as unknown as VirtualTimer | undefined;
    if (!t || !this.#timers.delete(t)) return;
    clearTimeout(t.real);
  }

  /**
   * Moves time forward by `duration` ("1h30m", "250ms", or ms) and fires,
   * in due order, every timer now due; the others keep their due times.
   */
  advance(duration: string | number): void {
    const ms = parseDuration(duration);
    this.#offset += ms;
    const now = this.now();
    const due = [...this.#timers].filter((t) => t.due <= now).sort((a, b) => a.due - b.due || a.seq - b.seq);
    for (const t of this.#timers) {
      if (t.due <= now) continue;
      // Their real timeouts were set for the old offset: shorten them.
      clearTimeout(t.real);
      this.#arm(t);
    }
    for (const t of due) this.#fire(t);
  }

  #arm(t: VirtualTimer): void {
    const delay = Math.min(MAX_TIMEOUT_MS, Math.max(0, t.due - this.now()));
    t.real = setTimeout(() => {
      // A capped delay may end before the due time.
      if (this.now() < t.due) this.#arm(t);
      else this.#fire(t);
    }, delay);
  }

  #fire(t: VirtualTimer): void {
    // Cleared by an earlier timer's callback in the same advance.
    if (!this.#timers.delete(t)) return;
    clearTimeout(t.real);
    t.fn();
  }
}
