// What each kind of context may do (DESIGN.md §2), in one table that both
// faces read: the runtime refuses the rest at run time (src/runtime/
// context-impl.ts adds why and what to do instead), and generated refs type
// their methods' context with the aliases below, so misuse fails to compile.
import type { Context } from "./context.js";
import type { MethodKind } from "./spec.js";

export type ContextKind = Context["kind"];

const ALL = ["reader", "writer", "transaction", "workflow"] as const;

/** The method kinds each kind of context may call. */
export const MAY_CALL = {
  reader: ["reader"],
  writer: ["reader"],
  transaction: ALL,
  workflow: ALL,
  external: ALL,
} as const satisfies Record<ContextKind, readonly MethodKind[]>;

/** Who may start tasks (`ref.spawn()`) and wait for or control them. */
export const MAY_SPAWN = ["workflow", "external"] as const satisfies readonly ContextKind[];

/** Who may add a task to its own commit (`ref.schedule()`). */
export const MAY_SCHEDULE = ["writer", "transaction"] as const satisfies readonly ContextKind[];

/** Who may watch readers (`ref.reactively()`): not a handler that holds actors. */
export const MAY_WATCH = ["workflow", "external"] as const satisfies readonly ContextKind[];

/** A context of one of the kinds `K`. */
export type ContextOf<K extends ContextKind> = Context & { readonly kind: K };

/** A context that may call a method of kind `M`: `MayCall<"writer">` is a transaction's, a workflow's or an external one. */
export type MayCall<M extends MethodKind> = ContextOf<{ [K in ContextKind]: M extends (typeof MAY_CALL)[K][number] ? K : never }[ContextKind]>;

/** A context that may start tasks with `ref.spawn()`. */
export type MaySpawn = ContextOf<(typeof MAY_SPAWN)[number]>;

/** A context that may schedule tasks into its commit with `ref.schedule()`. */
export type MaySchedule = ContextOf<(typeof MAY_SCHEDULE)[number]>;

/** A context that may watch readers with `ref.reactively()`. */
export type MayWatch = ContextOf<(typeof MAY_WATCH)[number]>;
