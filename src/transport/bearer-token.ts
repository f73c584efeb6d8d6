import type { IncomingHttpHeaders } from "node:http";
import { EXTERNAL_CALLER, type Caller } from "../runtime/context-impl.js";
import { traceCarrierOf, type HeaderSource } from "../api/trace-context.js";

/** The token of an `authorization: Bearer …` header, if any. */
export function bearerTokenOf(header: HeaderSource): string | undefined {
  return header.get("authorization")?.match(/^Bearer\s+(.+)$/i)?.[1];
}

/**
 * An external caller, with the bearer token and trace context of its
 * request headers if it sent them. Every transport path builds its caller
 * here (connect's `Headers`, or `nodeHeaders(req.headers)` on a path that
 * bypasses connect), so the runtime sees the same caller whichever path a
 * call came by.
 */
export function externalCallerOf(header: HeaderSource): Caller {
  const bearerToken = bearerTokenOf(header);
  const trace = traceCarrierOf(header);
  if (bearerToken === undefined && trace === undefined) return EXTERNAL_CALLER;
  return { ...EXTERNAL_CALLER, ...(bearerToken !== undefined && { bearerToken }), ...(trace && { trace }) };
}

/** Node's request headers (lower-case names) as a header source, without copying them. */
export function nodeHeaders(headers: IncomingHttpHeaders): HeaderSource {
  return {
    get: (name) => {
      const value = headers[name];
      return Array.isArray(value) ? value.join(", ") : value;
    },
  };
}
