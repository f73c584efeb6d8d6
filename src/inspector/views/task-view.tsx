// One task, live through useTask (Tasks.Watch): status, request and
// response as JSON, iteration and attempts, progress, the step history,
// and the operator's cancel / pause / resume.
import { useState } from "react";
import { useTask } from "@cairn-dev/cairn/react";
import { TaskStatus, type TaskInfo } from "../../../generated/cairn/v1/tasks_pb.js";
import { useApi } from "../api.js";
import { formatRelative, formatTime } from "../format.js";
import { href } from "../route.js";
import { decodeJson, type Schema } from "../schema.js";
import { JsonView, ProgressBar, Problem, StatusBadge } from "../widgets.js";

const ENDED = new Set([TaskStatus.COMPLETED, TaskStatus.ABORTED, TaskStatus.FAILED, TaskStatus.CANCELLED]);

export function TaskView({ taskId }: { taskId: string }) {
  const { task, error } = useTask(taskId);
  const { schema } = useApi();
  return (
    <section className="card" aria-labelledby="task-title">
      <p className="crumbs">
        <a href={href("tasks")}>Tasks</a> /
      </p>
      <h2 id="task-title">
        <code>{taskId}</code> {task && <StatusBadge status={task.status} testId="task-status" />}
      </h2>
      <Problem error={error} />
      {task && <TaskDetails task={task} schema={schema} />}
    </section>
  );
}

function TaskDetails({ task, schema }: { task: TaskInfo; schema: Schema | undefined }) {
  const now = Date.now();
  return (
    <>
      <Controls task={task} />
      <dl className="facts">
        <dt>Actor</dt>
        <dd>
          <a href={href("actors", task.stateType, task.actorId)}>
            {task.stateType} / {task.actorId}
          </a>
        </dd>
        <dt>Method</dt>
        <dd>
          <code>{task.method}</code>
        </dd>
        <dt>Iteration</dt>
        <dd data-testid="task-iteration">{task.iteration}</dd>
        <dt>Attempts</dt>
        <dd title="failed runs of this iteration">{task.attempts}</dd>
        <dt>Created</dt>
        <dd>{formatTime(task.createdAtMs)}</dd>
        {(task.status === TaskStatus.SCHEDULED || task.status === TaskStatus.PAUSED) && (
          <>
            <dt>Due</dt>
            <dd title={formatTime(task.runAtMs)}>{formatRelative(task.runAtMs, now)}</dd>
          </>
        )}
        {task.scheduleId && (
          <>
            <dt>Schedule</dt>
            <dd>
              <code>{task.scheduleId}</code>
            </dd>
          </>
        )}
        {task.codeVersion && (
          <>
            <dt>Code version</dt>
            <dd>{task.codeVersion}</dd>
          </>
        )}
      </dl>
      <h3>Progress</h3>
      <ProgressBar progress={task.progress} />
      {task.lastError && (
        <>
          <h3>Last error</h3>
          <pre className="problem-block">{task.lastError}</pre>
        </>
      )}
      <div className="two">
        <div>
          <h3>Request</h3>
          <Decoded schema={schema} typeName={task.requestType} bytes={task.request} testId="task-request" />
        </div>
        <div>
          <h3>{task.status === TaskStatus.ABORTED ? "Declared error" : "Response"}</h3>
          {task.status === TaskStatus.COMPLETED && <Decoded schema={schema} typeName={task.responseType} bytes={task.response} testId="task-response" />}
          {task.status === TaskStatus.ABORTED && task.error && (
            <>
              <p>{task.error.message}</p>
              <Decoded schema={schema} typeName={task.error.typeName} bytes={task.error.value} />
            </>
          )}
          {task.status !== TaskStatus.COMPLETED && task.status !== TaskStatus.ABORTED && <p className="muted">{ENDED.has(task.status) ? "None." : "None yet."}</p>}
        </div>
      </div>
      <h3>History</h3>
      <div className="table-scroll">
        <table className="history" data-testid="task-history">
          <thead>
            <tr>
              <th>At</th>
              <th>Event</th>
              <th>Detail</th>
            </tr>
          </thead>
          <tbody>
            {task.history.map((e, i) => (
              <tr key={i} className={`event-${e.kind}`}>
                <td>{formatTime(e.atMs)}</td>
                <td>{e.kind}</td>
                <td>{e.detail}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

function Decoded({ schema, typeName, bytes, testId }: { schema: Schema | undefined; typeName: string; bytes: Uint8Array; testId?: string }) {
  const { json, problem } = decodeJson(schema, typeName, bytes);
  if (problem !== undefined) return <p className="muted">{problem}</p>;
  return <JsonView value={json} testId={testId} />;
}

/** Cancel, pause and resume: operator calls; a refusal is shown, the watch shows the effect. */
function Controls({ task }: { task: TaskInfo }) {
  const { tasks } = useApi();
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const ended = ENDED.has(task.status);
  const act = (action: "cancel" | "pause" | "resume") => async () => {
    if (action === "cancel" && !window.confirm(`Cancel task ${task.taskId}? This is final.`)) return;
    setBusy(true);
    setError(undefined);
    try {
      await tasks[action]({ taskId: task.taskId });
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  if (ended) return null;
  return (
    <div className="row controls">
      {task.status === TaskStatus.PAUSED ? (
        <button onClick={act("resume")} disabled={busy}>
          Resume
        </button>
      ) : (
        <button onClick={act("pause")} disabled={busy}>
          Pause
        </button>
      )}
      <button className="danger" onClick={act("cancel")} disabled={busy}>
        Cancel
      </button>
      <Problem error={error} />
    </div>
  );
}
