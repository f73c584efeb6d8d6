import { afterEach, describe, expect, it } from "vitest";
import { AdjustableClock, type Timer } from "./clock.js";

// Every timer here is due hours ahead in real time, so only `advance` fires it.
const HOUR = 3_600_000;
let clock: AdjustableClock;
const armed: Timer[] = [];
afterEach(() => armed.splice(0).forEach((t) => clock.clearTimer(t)));

function set(fired: string[], name: string, delayMs: number): Timer {
  const t = clock.setTimer(() => fired.push(name), delayMs);
  armed.push(t);
  return t;
}

describe("AdjustableClock", () => {
  it("runs ahead of real time by what it was advanced", () => {
    clock = new AdjustableClock();
    const before = Date.now();
    clock.advance("1d");
    expect(clock.offset).toBe(86_400_000);
    expect(clock.now()).toBeGreaterThanOrEqual(before + 86_400_000);
  });

  it("fires the timers an advance makes due, in due order, ties first set first", () => {
    clock = new AdjustableClock();
    const fired: string[] = [];
    set(fired, "3h", 3 * HOUR);
    set(fired, "1h-a", HOUR);
    set(fired, "2h", 2 * HOUR);
    set(fired, "1h-b", HOUR);
    set(fired, "5h", 5 * HOUR);
    expect(clock.pendingTimers).toBe(5);
    clock.advance("3h");
    expect(fired).toEqual(["1h-a", "1h-b", "2h", "3h"]);
    expect(clock.pendingTimers).toBe(1);
    clock.advance("1h59m");
    expect(fired).toHaveLength(4);
    clock.advance("1m");
    expect(fired.at(-1)).toBe("5h");
    expect(clock.pendingTimers).toBe(0);
  });

  it("never fires a cleared timer, even one cleared by another in the same advance", () => {
    clock = new AdjustableClock();
    const fired: string[] = [];
    let second: Timer | undefined;
    armed.push(clock.setTimer(() => {
      fired.push("first");
      clock.clearTimer(second);
    }, HOUR));
    second = set(fired, "second", 2 * HOUR);
    const third = set(fired, "third", 2 * HOUR);
    clock.clearTimer(third);
    clock.clearTimer(third);
    clock.clearTimer(undefined);
    clock.advance("2h");
    expect(fired).toEqual(["first"]);
    expect(clock.pendingTimers).toBe(0);
  });

  it("takes durations as strings or milliseconds and refuses bad ones", () => {
    clock = new AdjustableClock();
    clock.advance(1_500);
    clock.advance("500ms");
    expect(clock.offset).toBe(2_000);
    expect(() => clock.advance("soon")).toThrow(/bad duration/);
    expect(() => clock.advance(-1)).toThrow(RangeError);
    expect(clock.offset).toBe(2_000);
  });
});
