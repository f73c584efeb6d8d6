import { describe, expect, it } from "vitest";
import { retentionPolicy } from "./retention-options.js";

const DAY = 86_400_000;

describe("retentionPolicy", () => {
  it("defaults to 7 days for tasks and 1 day for idempotency records", () => {
    expect(retentionPolicy({}, {})).toEqual({ tasksMs: 7 * DAY, idempotencyMs: DAY });
  });

  it("takes the option over the environment, and the environment over the default", () => {
    const env = { CAIRN_TASK_RETENTION: "30d", CAIRN_IDEMPOTENCY_RETENTION: "12h" };
    expect(retentionPolicy({}, env)).toEqual({ tasksMs: 30 * DAY, idempotencyMs: DAY / 2 });
    expect(retentionPolicy({ tasks: "1h", idempotency: 60_000 }, env)).toEqual({ tasksMs: 3_600_000, idempotencyMs: 60_000 });
  });

  it("keeps forever with false or \"off\"", () => {
    expect(retentionPolicy({ tasks: false }, { CAIRN_IDEMPOTENCY_RETENTION: "off" })).toEqual({ tasksMs: undefined, idempotencyMs: undefined });
  });

  it("refuses a bad duration, naming where it came from", () => {
    expect(() => retentionPolicy({ tasks: "a week" }, {})).toThrow(/^retention\.tasks: bad duration "a week"/);
    expect(() => retentionPolicy({}, { CAIRN_TASK_RETENTION: "-1d" })).toThrow(/^CAIRN_TASK_RETENTION: bad duration/);
    expect(() => retentionPolicy({ idempotency: -5 }, {})).toThrow(/^retention\.idempotency: a duration in milliseconds/);
  });
});
