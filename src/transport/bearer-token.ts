import { EXTERNAL_CALLER, type Caller } from "../runtime/context-impl.js";
import { traceCarrierOf } from "../api/trace-context.js";
import type { RequestHeaders } from "./request-headers.js";

/** The token of an `authorization: Bearer …` header, if any. */
export function bearerTokenOf(header: RequestHeaders): string | undefined {
  return header.get("authorization")?.match(/^Bearer\s+(.+)$/i)?.[1];
}

/**
 * An external caller, with the bearer token and trace context of its
 * request headers if it sent them. Every transport path builds its caller
 * here (connect's `Headers`, or `nodeRequestHeaders(req.headers)` on a path
 * that bypasses connect), so the runtime sees the same caller whichever path
 * a call came by.
 */
export function externalCallerOf(header: RequestHeaders): Caller {
  const bearerToken = bearerTokenOf(header);
  const trace = traceCarrierOf(header);
  if (bearerToken === undefined && trace === undefined) return EXTERNAL_CALLER;
  return { ...EXTERNAL_CALLER, ...(bearerToken !== undefined && { bearerToken }), ...(trace && { trace }) };
}
