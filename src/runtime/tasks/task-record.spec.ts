import { describe, expect, it } from "vitest";
import { isReservedTaskId, isValidTaskId, newTaskId, scheduledRunTaskId, taskIdFor, taskIdForKey, toMillis } from "./task-record.js";

describe("task ids", () => {
  it("fresh ids sort by creation time and differ within one millisecond", () => {
    const a = newTaskId(1_000);
    const b = newTaskId(1_000);
    const later = newTaskId(36 ** 5);
    expect(a).toMatch(/^[0-9a-z]{10}-[0-9a-f]{12}$/);
    expect(a).not.toBe(b);
    expect([later, a].sort()).toEqual([a, later]);
    expect(isValidTaskId(a)).toBe(true);
    expect(isReservedTaskId(a)).toBe(false);
  });

  it("a keyed spawn always names the same task, and other keys another", () => {
    const id = taskIdForKey("order-1");
    expect(id).toMatch(/^k-[0-9a-f]{32}$/);
    expect(taskIdForKey("order-1")).toBe(id);
    expect(taskIdForKey("order-2")).not.toBe(id);
    expect(taskIdFor("order-1", 5)).toBe(id);
    expect(taskIdFor(undefined, 5)).toMatch(/^0000000005-/);
    expect(isReservedTaskId(id)).toBe(true);
    expect(isValidTaskId(id)).toBe(true);
  });

  it("a cron run's id is fixed by schedule and due time, sorted by due time", () => {
    const due = Date.UTC(2030, 0, 31, 23, 59);
    const id = scheduledRunTaskId("nightly", due);
    expect(id).toMatch(/^[0-9a-z]{10}-c[0-9a-f]{15}$/);
    expect(scheduledRunTaskId("nightly", due)).toBe(id);
    expect(scheduledRunTaskId("hourly", due)).not.toBe(id);
    const next = scheduledRunTaskId("nightly", due + 60_000);
    expect([next, id].sort()).toEqual([id, next]);
    expect(isReservedTaskId(id)).toBe(true);
  });

  it("reserves exactly the derived forms", () => {
    expect(isReservedTaskId("k-anything")).toBe(true);
    expect(isReservedTaskId("0000000001-c0123456789abcde")).toBe(true);
    // One hex digit short or long, or upper case: not a cron run's id.
    expect(isReservedTaskId("0000000001-c0123456789abcd")).toBe(false);
    expect(isReservedTaskId("0000000001-c0123456789abcdef")).toBe(false);
    expect(isReservedTaskId("0000000001-c0123456789ABCDE")).toBe(false);
    expect(isReservedTaskId("my-task")).toBe(false);
    expect(isReservedTaskId("K-upper")).toBe(false);
  });

  it("accepts caller ids of 1 to 128 safe characters only", () => {
    expect(isValidTaskId("a")).toBe(true);
    expect(isValidTaskId("A_b-9".repeat(25) + "xyz")).toBe(true);
    expect(isValidTaskId("x".repeat(129))).toBe(false);
    for (const bad of ["", "a b", "a/b", "a.b", "é", "a\nb"]) expect(isValidTaskId(bad)).toBe(false);
  });
});

describe("toMillis", () => {
  it("reads a Date or a number, and keeps undefined", () => {
    expect(toMillis(new Date(1234))).toBe(1234);
    expect(toMillis(99)).toBe(99);
    expect(toMillis(undefined)).toBeUndefined();
  });
});
