import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { TaskInfoSchema, TaskStatus } from "../../generated/cairn/v1/tasks_pb.js";
import { formatTask, human, progressBar, when } from "./format-task.js";

describe("human", () => {
  it.each([
    [0, "0s"],
    [499, "0s"],
    [500, "1s"],
    [59_000, "59s"],
    [60_000, "1m"],
    [61_000, "1m1s"],
    [3_599_000, "59m59s"],
    [3_600_000, "1h"],
    [5_400_000, "1h30m"],
    [86_399_000, "23h59m"],
    [86_400_000, "1d"],
    [3 * 86_400_000 + 5 * 3_600_000, "3d"],
  ])("%d ms is %s", (ms, text) => {
    expect(human(ms)).toBe(text);
  });
});

describe("when", () => {
  const now = Date.UTC(2030, 0, 1, 9, 0, 0);
  it("is - for unset", () => {
    expect(when(0n, now)).toBe("-");
  });
  it("says now within a second, else in / ago", () => {
    expect(when(BigInt(now + 999), now)).toBe("2030-01-01T09:00:00.999Z (now)");
    expect(when(BigInt(now + 300_000), now)).toBe("2030-01-01T09:05:00.000Z (in 5m)");
    expect(when(BigInt(now - 90_000), now)).toBe("2030-01-01T08:58:30.000Z (1m30s ago)");
  });
});

describe("progressBar", () => {
  it("fills in twentieths and clamps the bar, not the number", () => {
    expect(progressBar(0)).toBe("[--------------------]   0.0%");
    expect(progressBar(0.35)).toBe("[#######-------------]  35.0%");
    expect(progressBar(1)).toBe("[####################] 100.0%");
    expect(progressBar(1.5)).toBe("[####################] 150.0%");
    expect(progressBar(-0.1)).toBe("[--------------------] -10.0%");
  });
});

describe("formatTask", () => {
  const info = (codeVersion: string) =>
    create(TaskInfoSchema, { taskId: "t1", status: TaskStatus.RUNNING, stateType: "a.v1.A", actorId: "x", method: "run", codeVersion });
  it("shows the code version a task was created on, when the application had one", () => {
    expect(formatTask(info("2026.12.1"))).toMatch(/^code version +2026\.12\.1$/m);
    expect(formatTask(info(""))).not.toContain("code version");
  });
});
