// The task list: filters (status, state type, actor, method) in the URL,
// newest first, a page at a time (Tasks.WatchList: live, bounded pages).
import { useState } from "react";
import { TaskStatus } from "../../../generated/cairn/v1/tasks_pb.js";
import { useApi } from "../api.js";
import { formatRelative, formatTime } from "../format.js";
import { useLive } from "../live.js";
import { href, hrefWith } from "../route.js";
import { Problem, StatusBadge, statusName } from "../widgets.js";

const PAGE = 50;
const STATUSES = [TaskStatus.SCHEDULED, TaskStatus.RUNNING, TaskStatus.PAUSED, TaskStatus.COMPLETED, TaskStatus.ABORTED, TaskStatus.FAILED, TaskStatus.CANCELLED];
const FILTERS = ["status", "type", "actor", "method"] as const;
type Filters = Record<(typeof FILTERS)[number], string>;

export function TasksView({ query }: { query: URLSearchParams }) {
  const { tasks, schema } = useApi();
  const filters: Filters = { status: query.get("status") ?? "", type: query.get("type") ?? "", actor: query.get("actor") ?? "", method: query.get("method") ?? "" };
  const after = query.get("after") ?? "";
  const status = STATUSES.find((s) => statusName(s).toLowerCase() === filters.status) ?? TaskStatus.UNSPECIFIED;
  const request = { status, stateType: filters.type, actorId: filters.actor, method: filters.method, pageToken: after, limit: PAGE, newestFirst: true };
  const live = useLive(JSON.stringify(request), (signal) => tasks.watchList(request, { signal }));
  const [draft, setDraft] = useState(filters);
  const apply = (next: Filters) => (window.location.hash = hrefWith(["tasks"], next));
  const methods = [...new Set((schema?.stateTypes ?? []).filter((t) => !draft.type || t.typeName === draft.type).flatMap((t) => t.methods.map((m) => m.name)))];
  return (
    <section className="card" aria-labelledby="tasks-title">
      <h2 id="tasks-title">Tasks</h2>
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault();
          apply(draft);
        }}
      >
        <label>
          Status
          <select value={draft.status} onChange={(e) => apply({ ...draft, status: e.target.value })} data-testid="filter-status">
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option key={s} value={statusName(s).toLowerCase()}>
                {statusName(s).toLowerCase()}
              </option>
            ))}
          </select>
        </label>
        <label>
          State type
          <select value={draft.type} onChange={(e) => apply({ ...draft, type: e.target.value, method: "" })}>
            <option value="">any</option>
            {schema?.stateTypes.map((t) => (
              <option key={t.typeName}>{t.typeName}</option>
            ))}
          </select>
        </label>
        <label>
          Actor
          <input value={draft.actor} onChange={(e) => setDraft({ ...draft, actor: e.target.value })} placeholder="exact id" />
        </label>
        <label>
          Method
          <select value={draft.method} onChange={(e) => apply({ ...draft, method: e.target.value })}>
            <option value="">any</option>
            {methods.map((m) => (
              <option key={m}>{m}</option>
            ))}
          </select>
        </label>
        <button type="submit">Filter</button>
      </form>
      <Problem error={live.error} />
      <div className="table-scroll">
        <table className="tasks" aria-busy={live.isLoading}>
          <thead>
            <tr>
              <th>Status</th>
              <th>Task</th>
              <th>Actor</th>
              <th>Method</th>
              <th>Progress</th>
              <th>Created</th>
            </tr>
          </thead>
          <tbody data-testid="task-rows">
            {live.value?.tasks.map((t) => (
              <tr key={t.taskId} data-testid="task-row" data-task-id={t.taskId}>
                <td>
                  <StatusBadge status={t.status} />
                </td>
                <td>
                  <a href={href("tasks", t.taskId)}>{t.taskId}</a>
                </td>
                <td>
                  <a href={href("actors", t.stateType, t.actorId)} title={t.stateType}>
                    {t.actorId}
                  </a>
                </td>
                <td>
                  <code>{t.method}</code>
                </td>
                <td>{t.progress?.fraction === undefined ? "" : `${Math.round(t.progress.fraction * 100)}%`}</td>
                <td title={formatTime(t.createdAtMs)}>{formatRelative(t.createdAtMs, Date.now())}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {live.value && live.value.tasks.length === 0 && (
        <p className="muted">{live.value.nextPageToken ? "None among the tasks looked at; the next page goes on." : "No tasks match."}</p>
      )}
      <div className="row pager">
        <span className="live">{live.error === undefined ? "● live" : ""}</span>
        {after !== "" && <a href={hrefWith(["tasks"], filters)}>Newest</a>}
        {live.value?.nextPageToken && (
          <a href={hrefWith(["tasks"], { ...filters, after: live.value.nextPageToken })} data-testid="tasks-next">
            Older →
          </a>
        )}
      </div>
    </section>
  );
}
