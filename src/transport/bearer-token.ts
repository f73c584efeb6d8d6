import { EXTERNAL_CALLER, type Caller } from "../runtime/context-impl.js";
import type { RequestHeaders } from "./request-headers.js";

/** The token of an `authorization: Bearer …` header, if any. */
export function bearerTokenOf(header: RequestHeaders): string | undefined {
  return header.get("authorization")?.match(/^Bearer\s+(.+)$/i)?.[1];
}

/** An external caller, with the bearer token of its request headers if it sent one. */
export function externalCallerOf(header: RequestHeaders): Caller {
  const bearerToken = bearerTokenOf(header);
  return bearerToken === undefined ? EXTERNAL_CALLER : { ...EXTERNAL_CALLER, bearerToken };
}
