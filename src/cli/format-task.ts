import { TaskStatus, type TaskInfo, type TaskProgress } from "../../generated/cairn/v1/tasks_pb.js";
import { byFieldNumber } from "./wire-dump.js";

export function statusLabel(status: TaskStatus): string {
  return (TaskStatus[status] ?? String(status)).toUpperCase();
}

/** "2025-01-01T09:00:00.000Z (in 5m)"; "-" for 0. */
export function when(ms: bigint, now: number): string {
  if (ms === 0n) return "-";
  const t = Number(ms);
  const delta = t - now;
  const rel = Math.abs(delta) < 1_000 ? "now" : delta > 0 ? `in ${human(delta)}` : `${human(-delta)} ago`;
  return `${new Date(t).toISOString()} (${rel})`;
}

export function human(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ""}`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60) ? `${Math.floor((s % 3600) / 60)}m` : ""}`;
  return `${Math.floor(s / 86_400)}d`;
}

const BAR_WIDTH = 20;

/** "[#######-------------]  35.0%": a bar for the fraction. */
export function progressBar(fraction: number): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * BAR_WIDTH);
  return `[${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}] ${(fraction * 100).toFixed(1).padStart(5)}%`;
}

/** Location, fraction and time left, as far as the workflow reported them. */
export function describeProgress(p: TaskProgress | undefined): string {
  if (!p) return "no progress reported";
  const parts = [p.location || "-"];
  if (p.fraction !== undefined) parts.push(progressBar(p.fraction));
  if (p.remainingMs !== undefined) parts.push(`${human(Number(p.remainingMs))} left`);
  return parts.join("  ");
}

/** A task's result and declared error as text, e.g. decoded with the application's schema. */
export interface TaskPayloads {
  readonly result?: string;
  readonly error?: string;
}

/**
 * The attempt a task is on (running), will make next, or ended on: 1-based,
 * as the history's "started … attempt N" says. `TaskInfo.attempts` counts
 * the iteration's failed runs (a run that suspends did not fail).
 */
export function attemptOf(info: TaskInfo): number {
  return info.attempts + 1;
}

/**
 * `tasks show` and `tasks wait`: one task, a field per line. The result and
 * error are `payloads` if given, else read by field number.
 */
export function formatTask(info: TaskInfo, now = Date.now(), payloads: TaskPayloads = {}): string {
  const rows: Array<[string, string]> = [
    ["task", info.taskId],
    ["status", statusLabel(info.status)],
    ["type", info.stateType],
    ["actor", info.actorId],
    ["method", info.method],
    ["iteration", String(info.iteration)],
    ["attempt", String(attemptOf(info))],
    ["created at", when(info.createdAtMs, now)],
  ];
  if (info.codeVersion) rows.push(["code version", info.codeVersion]);
  const ended = info.status === TaskStatus.COMPLETED || info.status === TaskStatus.ABORTED || info.status === TaskStatus.FAILED ||
    info.status === TaskStatus.CANCELLED;
  if (!ended) rows.push(["run at", when(info.runAtMs, now)]);
  if (info.status === TaskStatus.COMPLETED) rows.push(["result", payloads.result ?? byFieldNumber(info.response)]);
  if (info.error) rows.push(["error", `${info.error.typeName}: ${info.error.message} (${payloads.error ?? byFieldNumber(info.error.value)})`]);
  if (info.lastError) rows.push(["last error", info.lastError]);
  if (info.remoteStatusInput) rows.push(["remote status", info.remoteStatusInput]);
  if (info.progress) rows.push(["progress", `${describeProgress(info.progress)} (updated ${when(info.progress.updatedAtMs, now)})`]);
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
  if (info.history.length > 0) {
    lines.push("history");
    const kindWidth = Math.max(...info.history.map((e) => e.kind.length));
    for (const e of info.history) {
      lines.push(`  ${new Date(Number(e.atMs)).toISOString()}  ${e.kind.padEnd(kindWidth)}  ${e.detail}`.trimEnd());
    }
  }
  return lines.join("\n");
}

/** `tasks list`: one task per line, columns aligned. */
export function formatTaskTable(tasks: readonly TaskInfo[], now = Date.now()): string {
  if (tasks.length === 0) return "no tasks";
  const header = ["TASK", "STATUS", "TYPE", "ACTOR", "METHOD", "ITER", "ATTEMPT", "RUN AT"];
  const rows = tasks.map((t) => [
    t.taskId,
    statusLabel(t.status),
    t.stateType,
    t.actorId,
    t.method,
    String(t.iteration),
    String(attemptOf(t)),
    t.status === TaskStatus.SCHEDULED || t.status === TaskStatus.RUNNING ? when(t.runAtMs, now) : "-",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
}
