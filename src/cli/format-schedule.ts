import type { ScheduleInfo } from "../../generated/cairn/v1/schedules_pb.js";
import { when } from "./format-task.js";

/** `schedules list`: one schedule per line, columns aligned. */
export function formatScheduleTable(schedules: readonly ScheduleInfo[], now = Date.now()): string {
  if (schedules.length === 0) return "no schedules";
  const header = ["SCHEDULE", "TYPE", "ACTOR", "METHOD", "CRON", "TIMEZONE", "NEXT RUN", "LAST TASK", "SKIPPED"];
  const rows = schedules.map((s) => [
    s.scheduleId,
    s.stateType,
    s.actorId,
    s.method,
    s.cron,
    s.timezone || "UTC",
    when(s.nextRunAtMs, now),
    s.lastTaskId || "-",
    String(s.skipped),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
}

/** `schedules delete`: what was deleted, on one line. */
export function describeSchedule(s: ScheduleInfo): string {
  if (!s.stateType) return s.scheduleId;
  return `${s.scheduleId}: ${s.stateType}(${JSON.stringify(s.actorId)}).${s.method} at "${s.cron}" ${s.timezone || "UTC"}`;
}
