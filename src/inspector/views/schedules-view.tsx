// Cron schedules with their next run; delete.
import { useState } from "react";
import { useApi } from "../api.js";
import { formatRelative, formatTime } from "../format.js";
import { useAnswer } from "../live.js";
import { href } from "../route.js";
import { Problem } from "../widgets.js";

export function SchedulesView() {
  const { schedules } = useApi();
  const list = useAnswer("schedules", () => schedules.list({}));
  const [error, setError] = useState<unknown>(undefined);
  const remove = async (scheduleId: string) => {
    if (!window.confirm(`Delete schedule ${scheduleId}? Runs already started go on.`)) return;
    try {
      setError(undefined);
      await schedules.delete({ scheduleId });
    } catch (e) {
      setError(e);
    }
    list.reload();
  };
  const now = Date.now();
  return (
    <section className="card" aria-labelledby="schedules-title">
      <h2 id="schedules-title">Schedules</h2>
      <Problem error={list.error ?? error} />
      <div className="table-scroll">
        <table data-testid="schedules" aria-busy={list.isLoading}>
          <thead>
            <tr>
              <th>Schedule</th>
              <th>Actor</th>
              <th>Method</th>
              <th>Cron</th>
              <th>Next run</th>
              <th>Last task</th>
              <th>Skipped</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.value?.schedules.map((s) => (
              <tr key={s.scheduleId} data-testid="schedule-row" data-schedule-id={s.scheduleId}>
                <td>
                  <code>{s.scheduleId}</code>
                </td>
                <td>
                  <a href={href("actors", s.stateType, s.actorId)} title={s.stateType}>
                    {s.actorId}
                  </a>
                </td>
                <td>
                  <code>{s.method}</code>
                </td>
                <td>
                  <code>{s.cron}</code> {s.timezone || "UTC"}
                </td>
                <td title={formatTime(s.nextRunAtMs)} data-testid="schedule-next-run" data-at={String(s.nextRunAtMs)}>
                  {formatRelative(s.nextRunAtMs, now)}
                </td>
                <td>{s.lastTaskId ? <a href={href("tasks", s.lastTaskId)}>{s.lastTaskId}</a> : "—"}</td>
                <td>{s.skipped}</td>
                <td>
                  <button className="danger small" onClick={() => void remove(s.scheduleId)}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {list.value && list.value.schedules.length === 0 && <p className="muted">No cron schedules.</p>}
      <button className="secondary" onClick={() => list.reload()}>
        Refresh
      </button>
    </section>
  );
}
