// Small pieces every view uses.
import { Code, ConnectError } from "@connectrpc/connect";
import { TaskStatus, type TaskProgress } from "../../generated/cairn/v1/tasks_pb.js";
import { formatDuration } from "./format.js";

const STATUS_NAMES: Record<TaskStatus, string> = {
  [TaskStatus.UNSPECIFIED]: "UNKNOWN",
  [TaskStatus.SCHEDULED]: "SCHEDULED",
  [TaskStatus.RUNNING]: "RUNNING",
  [TaskStatus.COMPLETED]: "COMPLETED",
  [TaskStatus.ABORTED]: "ABORTED",
  [TaskStatus.FAILED]: "FAILED",
  [TaskStatus.CANCELLED]: "CANCELLED",
  [TaskStatus.PAUSED]: "PAUSED",
};

export function statusName(status: TaskStatus): string {
  return STATUS_NAMES[status] ?? "UNKNOWN";
}

export function StatusBadge({ status, testId }: { status: TaskStatus; testId?: string }) {
  const name = statusName(status);
  return (
    <span className={`badge badge-${name.toLowerCase()}`} data-testid={testId}>
      {name}
    </span>
  );
}

/** The task's progress: a bar (ARIA progressbar) with its location and the time left. */
export function ProgressBar({ progress }: { progress: TaskProgress | undefined }) {
  if (!progress) return <p className="muted">No progress reported.</p>;
  const fraction = progress.fraction;
  const percent = fraction === undefined ? undefined : Math.round(fraction * 1000) / 10;
  return (
    <div className="progress" data-testid="task-progress" data-fraction={fraction ?? ""}>
      <div
        className="progress-track"
        role="progressbar"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
        aria-label="progress"
      >
        <div className={`progress-fill${percent === undefined ? " indeterminate" : ""}`} style={{ width: `${percent ?? 100}%` }} />
      </div>
      <div className="progress-text">
        <span>{percent === undefined ? "" : `${percent}%`}</span>
        {progress.location && <span data-testid="task-location">{progress.location}</span>}
        {progress.remainingMs !== undefined && <span>{formatDuration(Number(progress.remainingMs))} left</span>}
      </div>
    </div>
  );
}

/** JSON, indented, in a scrollable block. */
export function JsonView({ value, testId }: { value: unknown; testId?: string }) {
  return (
    <pre className="json" data-testid={testId} tabIndex={0}>
      {JSON.stringify(value, null, 2)}
    </pre>
  );
}

/** Whether an error means the caller needs (another) operator token. */
export function needsToken(error: unknown): boolean {
  return error instanceof ConnectError && (error.code === Code.Unauthenticated || error.code === Code.PermissionDenied);
}

export function errorText(error: unknown): string {
  if (error instanceof ConnectError) return `${Code[error.code]}: ${error.rawMessage}`;
  return error instanceof Error ? error.message : String(error);
}

/** An error, said plainly; nothing when there is none. */
export function Problem({ error }: { error: unknown }) {
  if (error === undefined) return null;
  return (
    <p className="problem" role="alert">
      {errorText(error)}
    </p>
  );
}
