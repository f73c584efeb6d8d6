import { TaskStatus, type TaskInfo } from "../../generated/cairn/v1/tasks_pb.js";
import { dumpMessage } from "./wire-dump.js";

/** Lower-case status names, as `--state` takes them. */
export const STATES: Record<string, TaskStatus> = {
  scheduled: TaskStatus.SCHEDULED,
  running: TaskStatus.RUNNING,
  completed: TaskStatus.COMPLETED,
  aborted: TaskStatus.ABORTED,
  failed: TaskStatus.FAILED,
  cancelled: TaskStatus.CANCELLED,
  paused: TaskStatus.PAUSED,
};

export function statusLabel(status: TaskStatus): string {
  return (TaskStatus[status] ?? String(status)).toUpperCase();
}

function when(ms: bigint, now: number): string {
  if (ms === 0n) return "-";
  const t = Number(ms);
  const delta = t - now;
  const rel = Math.abs(delta) < 1_000 ? "now" : delta > 0 ? `in ${human(delta)}` : `${human(-delta)} ago`;
  return `${new Date(t).toISOString()} (${rel})`;
}

function human(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ""}`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60) ? `${Math.floor((s % 3600) / 60)}m` : ""}`;
  return `${Math.floor(s / 86_400)}d`;
}

/** The response as far as it can be read without the application's schema. */
function result(bytes: Uint8Array): string {
  const dump = dumpMessage(bytes);
  const size = `${bytes.length} byte${bytes.length === 1 ? "" : "s"}`;
  return dump === undefined ? size : `${size}, fields by number: ${dump}`;
}

/** `tasks show` and `tasks wait`: one task, a field per line. */
export function formatTask(info: TaskInfo, now = Date.now()): string {
  const rows: Array<[string, string]> = [
    ["task", info.taskId],
    ["status", statusLabel(info.status)],
    ["type", info.stateType],
    ["actor", info.actorId],
    ["method", info.method],
    ["iteration", String(info.iteration)],
    ["attempts", String(info.attempts)],
    ["created at", when(info.createdAtMs, now)],
  ];
  const ended = info.status === TaskStatus.COMPLETED || info.status === TaskStatus.ABORTED || info.status === TaskStatus.FAILED ||
    info.status === TaskStatus.CANCELLED;
  if (!ended) rows.push(["run at", when(info.runAtMs, now)]);
  if (info.status === TaskStatus.COMPLETED) rows.push(["result", result(info.response)]);
  if (info.error) rows.push(["error", `${info.error.typeName}: ${info.error.message} (${result(info.error.value)})`]);
  if (info.lastError) rows.push(["last error", info.lastError]);
  if (info.remoteStatusInput) rows.push(["remote status", info.remoteStatusInput]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n");
}

/** `tasks list`: one task per line, columns aligned. */
export function formatTaskTable(tasks: readonly TaskInfo[], now = Date.now()): string {
  if (tasks.length === 0) return "no tasks";
  const header = ["TASK", "STATUS", "TYPE", "ACTOR", "METHOD", "ITER", "ATTEMPTS", "RUN AT"];
  const rows = tasks.map((t) => [
    t.taskId,
    statusLabel(t.status),
    t.stateType,
    t.actorId,
    t.method,
    String(t.iteration),
    String(t.attempts),
    t.status === TaskStatus.SCHEDULED || t.status === TaskStatus.RUNNING ? when(t.runAtMs, now) : "-",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
}
