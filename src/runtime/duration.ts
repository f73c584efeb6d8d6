/**
 * Durations for `sleep`, timeouts and token lifetimes: "250ms", "30s", "1h30m", "1.5d", a number of
 * milliseconds, or a Date (an absolute wake time). Parsed strictly: a typo
 * must not turn into a zero-length sleep.
 */
export type Duration = string | number | Date;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const WHOLE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;

/** Milliseconds in a duration string or number; throws on anything else. */
export function parseDuration(duration: string | number): number {
  if (typeof duration === "number") {
    if (!Number.isFinite(duration) || duration < 0) {
      throw new RangeError(`a duration in milliseconds must be a finite number >= 0, not ${duration}`);
    }
    return duration;
  }
  const text = duration.trim();
  if (!WHOLE.test(text)) {
    throw new RangeError(
      `bad duration ${JSON.stringify(duration)}: write numbers with units ms, s, m, h or d, e.g. "250ms", "30s", "1h30m"`,
    );
  }
  let ms = 0;
  for (const [, amount, unit] of text.matchAll(PART)) ms += Number(amount) * UNIT_MS[unit!]!;
  return Math.round(ms);
}

/** The wall-clock time (ms since the epoch) a duration reached from `now` ends at. */
export function wakeTime(duration: Duration, now: number): number {
  if (duration instanceof Date) {
    const t = duration.getTime();
    if (Number.isNaN(t)) throw new RangeError("sleep was given an invalid Date");
    return t;
  }
  return now + parseDuration(duration);
}
