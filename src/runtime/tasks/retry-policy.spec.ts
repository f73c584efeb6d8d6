import { afterEach, describe, expect, it, vi } from "vitest";
import { backoff, checkRetryPolicy, delayAfter, DEFAULT_RETRY } from "./retry-policy.js";

afterEach(() => vi.restoreAllMocks());

/** backoff with Math.random fixed at `r`. */
function withRandom(r: number, fn: () => number): number {
  vi.spyOn(Math, "random").mockReturnValue(r);
  const v = fn();
  vi.restoreAllMocks();
  return v;
}

describe("backoff (workflow retries)", () => {
  const policy = { initialMs: 1_000, multiplier: 2, maxMs: 60_000 };

  it("grows by the multiplier from the initial delay, without jitter at the midpoint", () => {
    expect([1, 2, 3, 4].map((n) => withRandom(0.5, () => backoff(policy, n)))).toEqual([1_000, 2_000, 4_000, 8_000]);
  });

  it("treats attempt 0 (or less) like the first", () => {
    expect(withRandom(0.5, () => backoff(policy, 0))).toBe(1_000);
    expect(withRandom(0.5, () => backoff(policy, -3))).toBe(1_000);
  });

  it("stops growing at the cap", () => {
    expect(withRandom(0.5, () => backoff(policy, 7))).toBe(60_000);
    expect(withRandom(0.5, () => backoff(policy, 1_000))).toBe(60_000);
  });

  it("jitters by -25% to +25%", () => {
    expect(withRandom(0, () => backoff(policy, 3))).toBe(3_000);
    expect(withRandom(0.999_999, () => backoff(policy, 3))).toBe(5_000);
    for (let i = 0; i < 200; i++) {
      const d = backoff(policy, 2);
      expect(d).toBeGreaterThanOrEqual(1_500);
      expect(d).toBeLessThanOrEqual(2_500);
    }
  });

  it("defaults to 1 s doubling up to a minute", () => {
    expect(DEFAULT_RETRY).toEqual(policy);
  });

  it("is zero when the initial delay is", () => {
    expect(backoff({ initialMs: 0, multiplier: 2, maxMs: 60_000 }, 5)).toBe(0);
  });
});

describe("checkRetryPolicy (one validator: dispatcher, step retry, awaitRemote)", () => {
  const bad = (what: string) => new Error(`retry.${what}`);

  it("accepts partial policies of finite numbers >= 0", () => {
    expect(() => checkRetryPolicy({}, bad)).not.toThrow();
    expect(() => checkRetryPolicy({ initialMs: 0, multiplier: 0, maxMs: 5 }, bad)).not.toThrow();
  });

  it("names the first bad field in the caller's words", () => {
    expect(() => checkRetryPolicy({ initialMs: -1 }, bad)).toThrow("retry.initialMs must be a finite number >= 0, not -1");
    expect(() => checkRetryPolicy({ maxMs: Number.POSITIVE_INFINITY }, bad)).toThrow("retry.maxMs must be a finite number >= 0, not Infinity");
    expect(() => checkRetryPolicy({ multiplier: Number.NaN }, bad)).toThrow("retry.multiplier must be a finite number >= 0, not NaN");
  });

  it("holds the multiplier to a floor when asked (awaitRemote: >= 1)", () => {
    expect(() => checkRetryPolicy({ multiplier: 0.5 }, bad, 1)).toThrow("retry.multiplier must be a finite number >= 1, not 0.5");
  });

  it("delayAfter has no jitter and stops at the cap", () => {
    expect([1, 2, 3, 10].map((n) => delayAfter(DEFAULT_RETRY, n))).toEqual([1_000, 2_000, 4_000, 60_000]);
  });
});
