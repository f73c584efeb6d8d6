import { Aborted, FatalError, RetryableError, StepRetriesExhausted, StepTimedOut, misuseIn } from "../../api/errors.js";
import { backoff, checkRetryPolicy } from "../tasks/retry-policy.js";
import { Suspended } from "./suspended.js";

/**
 * Retrying one step in place (DESIGN.md §5, "Step retry policy"): within the
 * same run, with backoff, instead of failing the whole run and re-running
 * the workflow from the top.
 */
export interface StepRetry {
  /** Attempts in all, the first included. Default 3. */
  maxAttempts?: number;
  /** Delay before the second attempt. Default 1 s. */
  initialMs?: number;
  /** Growth of the delay per attempt. Default 2. */
  multiplier?: number;
  /** Cap on the delay. Default 60 s. */
  maxMs?: number;
}

export interface StepOptions {
  /**
   * Retry the step in place. Once the attempts are spent the task ends
   * FAILED (StepRetriesExhausted). Without it, a throw fails this run and
   * the whole workflow is retried later, as usual.
   */
  retry?: StepRetry;
  /** Bounds each attempt; one that runs longer counts as failed (StepTimedOut). */
  timeoutMs?: number;
}

const DEFAULT_STEP_RETRY = { maxAttempts: 3, initialMs: 1_000, multiplier: 2, maxMs: 60_000 };

/** What `fn` of a step may use: aborted on its attempt's timeout or when the application stops. */
export interface StepAttempt {
  readonly signal: AbortSignal;
  /** 1-based. */
  readonly attempt: number;
}

/** Errors that end the step at once: retrying cannot change them. */
function isFinalError(e: unknown): boolean {
  return e instanceof FatalError || e instanceof Aborted || e instanceof Suspended || misuseIn(e) !== undefined;
}

export async function runWithPolicy<T>(
  alias: string,
  fn: (attempt: StepAttempt) => Promise<T> | T,
  options: StepOptions | undefined,
  stop: AbortSignal,
  onRetry?: (attempt: number, error: unknown, delayMs: number) => void,
): Promise<T> {
  checkPolicy(alias, options);
  if (!options?.retry) return attemptOnce(alias, fn, 1, options?.timeoutMs, stop);
  const policy = { ...DEFAULT_STEP_RETRY, ...options.retry };
  for (let attempt = 1; ; attempt++) {
    try {
      return await attemptOnce(alias, fn, attempt, options.timeoutMs, stop);
    } catch (e) {
      if (stop.aborted || isFinalError(e)) throw e;
      if (attempt >= policy.maxAttempts) throw new StepRetriesExhausted(alias, attempt, e);
      const delay = e instanceof RetryableError && e.retryAfterMs !== undefined ? e.retryAfterMs : backoff(policy, attempt);
      onRetry?.(attempt, e, delay);
      await pause(delay, stop);
    }
  }
}

/** A nonsensical policy is a bug in the workflow: fail the task rather than loop or never run. */
function checkPolicy(alias: string, options: StepOptions | undefined): void {
  const bad = (what: string) => new FatalError(`step ${JSON.stringify(alias)}: ${what}`);
  const { retry, timeoutMs } = options ?? {};
  if (timeoutMs !== undefined && !(timeoutMs > 0)) throw bad(`timeoutMs must be > 0, not ${timeoutMs}`);
  if (!retry) return;
  if (retry.maxAttempts !== undefined && !(Number.isInteger(retry.maxAttempts) && retry.maxAttempts >= 1)) {
    throw bad(`retry.maxAttempts must be a whole number >= 1, not ${retry.maxAttempts}`);
  }
  checkRetryPolicy(retry, (what) => bad(`retry.${what}`));
}

async function attemptOnce<T>(
  alias: string,
  fn: (attempt: StepAttempt) => Promise<T> | T,
  attempt: number,
  timeoutMs: number | undefined,
  stop: AbortSignal,
): Promise<T> {
  if (timeoutMs === undefined) return fn({ signal: stop, attempt });
  const timeout = new AbortController();
  const signal = AbortSignal.any([stop, timeout.signal]);
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new StepTimedOut(alias, timeoutMs);
      timeout.abort(err);
      reject(err);
    }, timeoutMs);
  });
  try {
    // fn cannot be forced to stop: it is told through `signal`, and its late result is ignored.
    return await Promise.race([Promise.resolve().then(() => fn({ signal, attempt })), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits `ms`, or rejects at once when the application stops. */
function pause(ms: number, stop: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (stop.aborted) return reject(stop.reason);
    const onStop = () => {
      clearTimeout(timer);
      reject(stop.reason);
    };
    const timer = setTimeout(() => {
      stop.removeEventListener("abort", onStop);
      resolve();
    }, ms);
    stop.addEventListener("abort", onStop, { once: true });
  });
}
