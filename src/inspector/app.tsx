// The frame: navigation, the token prompt when the server asks for one, and
// the view the hash route names.
import { useMemo, useState } from "react";
import { useCairnContext } from "@cairn-dev/cairn/react";
import { ApiContext, apiOf } from "./api.js";
import { useAnswer } from "./live.js";
import { href, useRoute } from "./route.js";
import { schemaOf } from "./schema.js";
import { saveToken, storedToken } from "./token.js";
import { needsToken, Problem } from "./widgets.js";
import { TypesView } from "./views/types-view.js";
import { ActorView } from "./views/actor-view.js";
import { TasksView } from "./views/tasks-view.js";
import { TaskView } from "./views/task-view.js";
import { SchedulesView } from "./views/schedules-view.js";

export function App() {
  const ctx = useCairnContext();
  const bare = useMemo(() => apiOf(ctx, undefined), [ctx]);
  const types = useAnswer("types", () => bare.actors.types({}));
  const api = useMemo(() => apiOf(ctx, types.value && schemaOf(types.value)), [ctx, types.value]);
  const route = useRoute();
  const [section] = route.path;
  return (
    <ApiContext.Provider value={api}>
      <header className="top">
        <a className="brand" href={href()}>
          Cairn inspector
        </a>
        <nav aria-label="sections">
          <a href={href()} aria-current={section === undefined || section === "types" || section === "actors" ? "page" : undefined}>
            State
          </a>
          <a href={href("tasks")} aria-current={section === "tasks" ? "page" : undefined}>
            Tasks
          </a>
          <a href={href("schedules")} aria-current={section === "schedules" ? "page" : undefined}>
            Schedules
          </a>
        </nav>
        {storedToken() !== undefined && (
          <button className="link" onClick={() => saveToken("")}>
            Sign out
          </button>
        )}
      </header>
      <main>
        {needsToken(types.error) ? <TokenPrompt error={types.error} /> : <Problem error={types.error} />}
        {/* Views start their own calls at once; the schema fills in when it comes. */}
        {!needsToken(types.error) && <View />}
      </main>
    </ApiContext.Provider>
  );
}

function View() {
  const { path, query } = useRoute();
  const [section, a, b] = path;
  if (section === "actors" && a !== undefined && b !== undefined) return <ActorView stateType={a} actorId={b} />;
  if (section === "tasks" && a !== undefined) return <TaskView taskId={a} />;
  if (section === "tasks") return <TasksView query={query} />;
  if (section === "schedules") return <SchedulesView />;
  return <TypesView selected={section === "types" ? a : undefined} query={query} />;
}

/** Asks for an operator token: the server refused the calls without one. */
function TokenPrompt({ error }: { error: unknown }) {
  const [token, setToken] = useState("");
  return (
    <form
      className="card token"
      onSubmit={(e) => {
        e.preventDefault();
        if (token.trim()) saveToken(token.trim());
      }}
    >
      <h2>Operator token needed</h2>
      {storedToken() !== undefined && (
        <p className="problem" role="alert" data-testid="token-refused">
          The server refused the token given: it is not an operator&apos;s. Paste another, or sign out.
        </p>
      )}
      <Problem error={error} />
      <p>
        The inspector reads through operator calls. Paste a bearer token whose claims carry <code>cairn_admin: true</code> (
        <code>cairn token --admin</code> signs one), or start the application with <code>insecureDevelopmentMode</code> while
        developing.
      </p>
      <label htmlFor="token">Operator token</label>
      <input id="token" type="password" autoComplete="off" autoFocus value={token} onChange={(e) => setToken(e.target.value)} />
      <button type="submit">Use token</button>
    </form>
  );
}
