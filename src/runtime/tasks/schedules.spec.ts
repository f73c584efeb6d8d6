import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { callErrorOf } from "../../../test/fixtures/call-outcome.js";
import { nextCronRun, scheduleIdFor } from "./schedules.js";

const at = (iso: string) => Date.parse(iso);
const next = (cron: string, after: string, timezone = "") => {
  const t = nextCronRun(cron, timezone, at(after));
  return t === undefined ? undefined : new Date(t).toISOString();
};

describe("nextCronRun (UTC unless told)", () => {
  it("is strictly after the given time", () => {
    expect(next("0 * * * *", "2030-01-01T10:00:00.000Z")).toBe("2030-01-01T11:00:00.000Z");
    expect(next("0 * * * *", "2030-01-01T09:59:59.999Z")).toBe("2030-01-01T10:00:00.000Z");
  });

  it("crosses day, month and year ends", () => {
    expect(next("59 23 * * *", "2030-12-31T23:59:00.000Z")).toBe("2031-01-01T23:59:00.000Z");
    expect(next("0 0 1 1 *", "2029-12-31T23:59:59.999Z")).toBe("2030-01-01T00:00:00.000Z");
    expect(next("0 0 1 * *", "2030-04-30T12:00:00.000Z")).toBe("2030-05-01T00:00:00.000Z");
  });

  it("skips months without the day rather than clamping to the month's end", () => {
    expect(next("0 0 31 * *", "2030-01-31T00:00:00.000Z")).toBe("2030-03-31T00:00:00.000Z");
    expect(next("0 0 31 * *", "2030-03-31T00:00:00.000Z")).toBe("2030-05-31T00:00:00.000Z");
  });

  it("waits for a leap year for 29 February", () => {
    expect(next("0 12 29 2 *", "2025-03-01T00:00:00.000Z")).toBe("2028-02-29T12:00:00.000Z");
  });

  it("takes L for the last day of the month", () => {
    expect(next("0 0 L * *", "2030-02-01T00:00:00.000Z")).toBe("2030-02-28T00:00:00.000Z");
    expect(next("0 0 L * *", "2028-02-01T00:00:00.000Z")).toBe("2028-02-29T00:00:00.000Z");
  });

  it("reads day of week and a leading seconds field", () => {
    // 2030-01-01 is a Tuesday; the next Monday is the 7th.
    expect(next("0 0 * * 1", "2030-01-01T00:00:00.000Z")).toBe("2030-01-07T00:00:00.000Z");
    expect(next("*/15 * * * * *", "2030-01-01T10:00:00.000Z")).toBe("2030-01-01T10:00:15.000Z");
  });

  it("reads the fields in the given zone", () => {
    // Tokyo has no daylight saving: 09:00 there is always 00:00 UTC.
    expect(next("0 9 * * *", "2030-01-01T00:00:00.000Z", "Asia/Tokyo")).toBe("2030-01-02T00:00:00.000Z");
    expect(next("0 9 * * *", "2030-01-01T00:00:00.000Z")).toBe("2030-01-01T09:00:00.000Z");
  });

  it("has no next run for a date that never comes", () => {
    expect(next("0 0 30 2 *", "2030-01-01T00:00:00.000Z")).toBeUndefined();
  });

  it.each([
    ["61 * * * *", /bad cron expression "61 \* \* \* \*"/],
    ["* * *", /bad cron expression/],
    ["0 0 1 1 * 2030", /bad cron expression/],
    ["every day", /bad cron expression/],
  ])("refuses %j with INVALID_ARGUMENT", (cron, message) => {
    const e = callErrorOf(() => nextCronRun(cron, "", 0));
    expect(e.code).toBe(Code.InvalidArgument);
    expect(e.message).toMatch(message);
  });

  it("refuses an unknown zone by name", () => {
    expect(() => nextCronRun("0 9 * * *", "Mars/Olympus", 0)).toThrow(/unknown time zone "Mars\/Olympus"/);
  });
});

describe("scheduleIdFor", () => {
  it("names the same schedule the same, and any difference another", () => {
    const id = scheduleIdFor("bank.v1.Account", "alice", "Report", "0 9 * * *", "");
    expect(scheduleIdFor("bank.v1.Account", "alice", "Report", "0 9 * * *", "")).toBe(id);
    const others = [
      scheduleIdFor("bank.v1.Account", "bob", "Report", "0 9 * * *", ""),
      scheduleIdFor("bank.v1.Account", "alice", "Audit", "0 9 * * *", ""),
      scheduleIdFor("bank.v1.Account", "alice", "Report", "0 10 * * *", ""),
      scheduleIdFor("bank.v1.Account", "alice", "Report", "0 9 * * *", "Asia/Tokyo"),
      // Fields are joined unambiguously: moving a character across a boundary changes the id.
      scheduleIdFor("bank.v1.Account", "alic", "eReport", "0 9 * * *", ""),
    ];
    expect(new Set([id, ...others]).size).toBe(others.length + 1);
  });
});
