import { describe, expect, it } from "vitest";
import { parseDuration, wakeTime } from "./duration.js";

describe("parseDuration", () => {
  it("reads each unit and sums compound durations", () => {
    expect(parseDuration("250ms")).toBe(250);
    expect(parseDuration("30s")).toBe(30_000);
    expect(parseDuration("2m")).toBe(120_000);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("1d")).toBe(86_400_000);
    expect(parseDuration("1h1m1s1ms")).toBe(3_661_001);
    expect(parseDuration("2m5s")).toBe(125_000);
  });

  it("takes fractions and rounds to whole milliseconds", () => {
    expect(parseDuration("1.5d")).toBe(129_600_000);
    expect(parseDuration("0.5s")).toBe(500);
    expect(parseDuration("1.5s")).toBe(1_500);
    expect(parseDuration("1.4ms")).toBe(1);
    expect(parseDuration("1.5ms")).toBe(2);
  });

  it("tells ms from m", () => {
    expect(parseDuration("1m")).toBe(60_000);
    expect(parseDuration("1ms")).toBe(1);
    expect(parseDuration("1m1ms")).toBe(60_001);
  });

  it("ignores surrounding white space, not inner", () => {
    expect(parseDuration("  30s\n")).toBe(30_000);
    expect(() => parseDuration("1h 30m")).toThrow(RangeError);
  });

  it("passes a number of milliseconds through, zero included", () => {
    expect(parseDuration(0)).toBe(0);
    expect(parseDuration(1234.5)).toBe(1234.5);
  });

  it.each(["", "30", "s", "h", "ms", "30x", "1.s", ".5s", "-1s", "1e3ms", "30S", "1h30", "abc", "1w", "5 minutes"])(
    "refuses %j rather than sleep for zero",
    (text) => {
      expect(() => parseDuration(text)).toThrow(/bad duration/);
    },
  );

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY])("refuses the number %d", (n) => {
    expect(() => parseDuration(n)).toThrow(/finite number >= 0/);
  });
});

describe("wakeTime", () => {
  it("adds a duration to now", () => {
    expect(wakeTime("1m", 1_000)).toBe(61_000);
    expect(wakeTime(500, 1_000)).toBe(1_500);
  });

  it("takes a Date as the absolute wake time, even one in the past", () => {
    expect(wakeTime(new Date(5_000), 1_000_000)).toBe(5_000);
  });

  it("refuses an invalid Date", () => {
    expect(() => wakeTime(new Date("not a date"), 0)).toThrow(/invalid Date/);
  });
});
