import type { NodeHandler } from "./server.js";

/** Why the application is not ready for traffic, or undefined when it is. */
export type Readiness = () => string | undefined;

const JSON_HEADERS = { "content-type": "application/json", "cache-control": "no-store" };

/**
 * `GET /healthz` (live: this process serves HTTP) and `GET /readyz` (ready:
 * recovered, the store takes writes, not draining; 503 with the reason
 * otherwise) for orchestrators' probes. Answered before any RPC handling:
 * no token, no actor call, nothing stored.
 */
export function withHealthEndpoints(readiness: Readiness, next: NodeHandler): NodeHandler {
  return (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") return next(req, res);
    const path = req.url?.split("?")[0];
    if (path !== "/healthz" && path !== "/readyz") return next(req, res);
    const reason = path === "/readyz" ? readiness() : undefined;
    const body = reason === undefined ? { status: path === "/readyz" ? "ready" : "ok" } : { status: "not ready", reason };
    res.writeHead(reason === undefined ? 200 : 503, JSON_HEADERS);
    res.end(req.method === "HEAD" ? "" : JSON.stringify(body));
  };
}
