import type { IncomingHttpHeaders } from "node:http";

/**
 * A request's headers as the server's routes read them: connect's
 * `Headers`, or node's header object through `nodeRequestHeaders`.
 */
export interface RequestHeaders {
  get(name: string): string | null;
}

/** Node's headers (lower-case names; repeated ones joined as `Headers.get` joins them). */
export function nodeRequestHeaders(headers: IncomingHttpHeaders): RequestHeaders {
  return {
    get: (name) => {
      const value = headers[name];
      return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
    },
  };
}
