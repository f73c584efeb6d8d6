/**
 * The one backoff shape: the dispatcher's workflow retries, a step's retry
 * in place and `awaitRemote`'s polling all grow a delay by `multiplier`
 * from `initialMs`, capped at `maxMs`.
 */
export interface RetryPolicy {
  initialMs: number;
  multiplier: number;
  maxMs: number;
}

/** Workflow retries after unexpected errors (DESIGN.md §5). */
export const DEFAULT_RETRY: RetryPolicy = { initialMs: 1000, multiplier: 2, maxMs: 60_000 };

/** The delay after attempt `attempts` (1-based), before jitter. */
export function delayAfter(policy: RetryPolicy, attempts: number): number {
  return Math.min(policy.maxMs, policy.initialMs * policy.multiplier ** Math.max(0, attempts - 1));
}

/** The delay before retry number `attempts` (1-based), with ±25% jitter. */
export function backoff(policy: RetryPolicy, attempts: number): number {
  return Math.round(delayAfter(policy, attempts) * (0.75 + Math.random() * 0.5));
}

/**
 * Checks the fields a caller set: each a finite number >= 0 (the multiplier
 * >= `minMultiplier`). `bad` turns "initialMs must be …" into the caller's
 * error, named the way its caller wrote the option.
 */
export function checkRetryPolicy(
  policy: Partial<RetryPolicy>,
  bad: (what: string) => Error,
  minMultiplier = 0,
): void {
  for (const key of ["initialMs", "multiplier", "maxMs"] as const) {
    const v = policy[key];
    const min = key === "multiplier" ? minMultiplier : 0;
    if (v !== undefined && !(Number.isFinite(v) && v >= min)) throw bad(`${key} must be a finite number >= ${min}, not ${v}`);
  }
}
