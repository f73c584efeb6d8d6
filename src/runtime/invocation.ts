import type { Message } from "@bufbuild/protobuf";
import type { MethodSpec, StateSpec } from "./spec.js";

/** How a call chooses its idempotency key (DESIGN.md §4). */
export type IdempotencyChoice =
  | { readonly kind: "unset" }
  | { readonly kind: "none" }
  | { readonly kind: "alias"; readonly alias: string }
  | { readonly kind: "key"; readonly key: string };

/** One call of one method on one actor, as a ref hands it to a context. */
export interface Invocation {
  readonly spec: StateSpec;
  readonly method: MethodSpec;
  readonly actorId: string;
  readonly request: Message;
  readonly idempotency: IdempotencyChoice;
}

/** Symbol under which every context carries the means to call methods. */
export const INVOKE: unique symbol = Symbol("cairn.invoke");

export interface Invoker {
  invoke(invocation: Invocation): Promise<Message>;
}
