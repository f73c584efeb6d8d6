import type { INVOKE, Invoker } from "./invocation.js";

/**
 * Every context a handler receives, and the external one a client creates.
 * A context is what a ref's methods take as their first argument: it decides
 * how the call travels (in-process or over the network) and what the caller
 * may call (DESIGN.md §2):
 *
 * - readers may call readers;
 * - writers may call readers;
 * - transactions and workflows may call anything (their own issues);
 * - external callers may call anything.
 */
export interface Context {
  readonly kind: "external" | "reader" | "writer" | "transaction" | "workflow";
  /** Runtime internals: how refs reach this context's transport. */
  readonly [INVOKE]: Invoker;
}
