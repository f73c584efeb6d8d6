import { describe, expect, it } from "vitest";
import { DEFAULT_REMOTE_BACKOFF } from "./await-remote.js";
import { delayAfter } from "../tasks/retry-policy.js";

describe("delayAfter (awaitRemote polling)", () => {
  it("waits the initial delay after the first check, then grows by the multiplier", () => {
    expect([1, 2, 3, 4].map((n) => delayAfter(DEFAULT_REMOTE_BACKOFF, n))).toEqual([1_000, 2_000, 4_000, 8_000]);
  });

  it("stops growing at the cap (5 min by default)", () => {
    expect(delayAfter(DEFAULT_REMOTE_BACKOFF, 9)).toBe(256_000);
    expect(delayAfter(DEFAULT_REMOTE_BACKOFF, 10)).toBe(300_000);
    expect(delayAfter(DEFAULT_REMOTE_BACKOFF, 10_000)).toBe(300_000);
  });

  it("has no jitter, and a multiplier of 1 polls evenly", () => {
    const even = { initialMs: 250, multiplier: 1, maxMs: 1_000 };
    expect([1, 2, 50].map((n) => delayAfter(even, n))).toEqual([250, 250, 250]);
  });
});
