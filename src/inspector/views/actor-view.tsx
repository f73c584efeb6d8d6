// One actor's durable state as JSON, live: Actors.Watch streams it again
// after each commit (the watchers under reactive readers, no polling).
import { useApi } from "../api.js";
import { useLive } from "../live.js";
import { href, hrefWith } from "../route.js";
import { JsonView, Problem } from "../widgets.js";

export function ActorView({ stateType, actorId }: { stateType: string; actorId: string }) {
  const { actors } = useApi();
  const live = useLive(`${stateType}\0${actorId}`, (signal) => actors.watch({ stateType, actorId }, { signal }));
  const state = live.value;
  return (
    <section className="card" aria-labelledby="actor-title">
      <p className="crumbs">
        <a href={href("types", stateType)}>{stateType}</a> /
      </p>
      <h2 id="actor-title">
        <code>{actorId}</code>
      </h2>
      <p className="row">
        <span>
          version <strong data-testid="actor-version">{state ? String(state.version) : "…"}</strong>
        </span>
        <span className={live.error === undefined ? "live" : "muted"}>{live.error === undefined ? "● live" : "reconnecting"}</span>
        <a href={hrefWith(["tasks"], { type: stateType, actor: actorId })}>Its tasks</a>
      </p>
      <Problem error={live.error} />
      {state && state.version === 0n && <p className="muted">This actor does not exist (yet).</p>}
      {state && state.version !== 0n && <JsonView value={JSON.parse(state.stateJson)} testId="actor-state" />}
    </section>
  );
}
