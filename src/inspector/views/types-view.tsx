// Every state type the application serves, its methods by kind, and a
// searchable, paged list of one type's actor ids.
import { useEffect, useRef, useState } from "react";
import type { MethodInfo } from "../../../generated/cairn/v1/actors_pb.js";
import { useApi } from "../api.js";
import { useAnswer } from "../live.js";
import { href, hrefWith } from "../route.js";
import { Problem } from "../widgets.js";

const KINDS = ["reader", "writer", "transaction", "workflow"] as const;
const PAGE = 50;

export function TypesView({ selected, query }: { selected: string | undefined; query: URLSearchParams }) {
  const { schema } = useApi();
  const types = schema?.stateTypes ?? [];
  const current = selected ?? types[0]?.typeName;
  return (
    <div className="split">
      <section aria-labelledby="types-title" className="card">
        <h2 id="types-title">State types</h2>
        {schema === undefined && <p className="muted">Loading…</p>}
        {schema !== undefined && types.length === 0 && <p className="muted">This application serves no state types.</p>}
        <ul className="types" data-testid="state-types">
          {types.map((t) => (
            <li key={t.typeName} className={t.typeName === current ? "selected" : undefined}>
              <a href={href("types", t.typeName)} data-testid="state-type" aria-current={t.typeName === current ? "true" : undefined}>
                {t.typeName}
              </a>
              <Methods methods={t.methods} />
            </li>
          ))}
        </ul>
      </section>
      {current && <ActorList key={current} stateType={current} query={query} />}
    </div>
  );
}

function Methods({ methods }: { methods: readonly MethodInfo[] }) {
  return (
    <dl className="methods">
      {KINDS.map((kind) => {
        const of = methods.filter((m) => m.kind === kind);
        if (of.length === 0) return null;
        return (
          <div key={kind}>
            <dt className={`kind kind-${kind}`}>{kind}s</dt>
            <dd>
              {of.map((m) => (
                <code key={m.name} title={`${m.rpcName}(${m.requestType}) → ${m.responseType}${m.constructor ? "; may create the actor" : ""}`}>
                  {m.name}
                </code>
              ))}
            </dd>
          </div>
        );
      })}
    </dl>
  );
}

/**
 * A page of ids containing the search text (the server looks at 20,000 ids
 * a call at most, so a rare match may need "Next page"); "Next" follows the
 * page token, back goes back.
 */
function ActorList({ stateType, query }: { stateType: string; query: URLSearchParams }) {
  const { actors } = useApi();
  const text = query.get("q") ?? "";
  const after = query.get("after") ?? "";
  const page = useAnswer(`${stateType}\0${text}\0${after}`, () => actors.list({ stateType, idContains: text, pageToken: after, limit: PAGE }));
  const [typed, setTyped] = useState(text);
  const search = useRef<HTMLInputElement>(null);
  // "/" jumps to the search box, as on most sites.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "/" && document.activeElement?.tagName !== "INPUT") {
        e.preventDefault();
        search.current?.focus();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
  return (
    <section aria-labelledby="actors-title" className="card grow">
      <h2 id="actors-title">
        Actors of <code>{stateType}</code>
      </h2>
      <form
        className="row"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          window.location.hash = hrefWith(["types", stateType], { q: typed });
        }}
      >
        <label htmlFor="actor-search" className="visually-hidden">
          Actor id contains
        </label>
        <input
          id="actor-search"
          ref={search}
          placeholder="Actor id contains…  (press / )"
          value={typed}
          onChange={(e) => setTyped(e.target.value)}
          data-testid="actor-search"
        />
        <button type="submit">Search</button>
      </form>
      <Problem error={page.error} />
      <ul className="ids" data-testid="actor-ids" aria-busy={page.isLoading}>
        {page.value?.actorIds.map((id) => (
          <li key={id}>
            <a href={href("actors", stateType, id)}>{id}</a>
          </li>
        ))}
      </ul>
      {page.value && page.value.actorIds.length < PAGE && page.value.nextPageToken !== "" && (
        <p className="muted" data-testid="actors-partial">
          {page.value.actorIds.length === 0 ? "None" : "These are all"} among the ids looked at so far (a search reads 20,000 ids a page);{" "}
          <em>Next page</em> looks further.
        </p>
      )}
      {page.value && page.value.actorIds.length === 0 && page.value.nextPageToken === "" && (
        <p className="muted">No actors{text ? ` whose id contains “${text}”` : ""}.</p>
      )}
      <div className="row pager">
        <button className="secondary" onClick={() => page.reload()}>
          Refresh
        </button>
        {after !== "" && <a href={hrefWith(["types", stateType], { q: text })}>First page</a>}
        {page.value?.nextPageToken && (
          <a href={hrefWith(["types", stateType], { q: text, after: page.value.nextPageToken })} data-testid="actors-next">
            Next page →
          </a>
        )}
      </div>
    </section>
  );
}
