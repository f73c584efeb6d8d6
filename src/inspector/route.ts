// Hash routes (#/tasks/ID): the server serves one page, links work without
// it knowing the views, and the back button works.
import { useSyncExternalStore } from "react";

export interface Route {
  /** Path segments after "#/", decoded: ["tasks", "t-123"]. */
  readonly path: readonly string[];
  readonly query: URLSearchParams;
}

const subscribe = (onChange: () => void) => {
  window.addEventListener("hashchange", onChange);
  return () => window.removeEventListener("hashchange", onChange);
};

export function useRoute(): Route {
  const hash = useSyncExternalStore(subscribe, () => window.location.hash);
  const [path = "", query = ""] = hash.replace(/^#\/?/, "").split("?", 2);
  return { path: path.split("/").filter((s) => s !== "").map(decodeURIComponent), query: new URLSearchParams(query) };
}

/** The href of a route: href("tasks", id) → "#/tasks/<id>". */
export function href(...segments: string[]): string {
  return `#/${segments.map(encodeURIComponent).join("/")}`;
}

/** `href` with a query string from the non-empty entries of `query`. */
export function hrefWith(segments: string[], query: Record<string, string>): string {
  const q = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== ""));
  const s = q.toString();
  return href(...segments) + (s ? `?${s}` : "");
}
