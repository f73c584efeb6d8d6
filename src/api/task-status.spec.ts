import { describe, expect, it } from "vitest";
import { TaskStatus } from "../../generated/cairn/v1/tasks_pb.js";
import { TASK_STATUS, taskStatusNamed } from "./task-status.js";

describe("taskStatusNamed", () => {
  it("names every stored status, each a different wire status", () => {
    for (const [name, status] of Object.entries(TASK_STATUS)) expect(taskStatusNamed(name)).toBe(status);
    expect(new Set(Object.values(TASK_STATUS)).size).toBe(Object.keys(TASK_STATUS).length);
    expect(Object.values(TASK_STATUS)).not.toContain(TaskStatus.UNSPECIFIED);
  });

  it("knows no other name, not even inherited ones or other cases", () => {
    for (const name of ["", "RUNNING", "unspecified", "toString", "constructor", "__proto__"]) {
      expect(taskStatusNamed(name)).toBeUndefined();
    }
  });
});
