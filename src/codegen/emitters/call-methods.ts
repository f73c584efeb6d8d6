// Refs, spawners, schedulers and reactives all expose one typed member per
// method that forwards to a base-class call; this prints that member.
import type { Printable } from "@bufbuild/protoplugin";
import type { MethodModel } from "../validate.js";
import { requestInit, type StateScope } from "./state-scope.js";

export interface CallMethod {
  /** The contexts that may make the call, e.g. `MayCall<"writer">`: misuse fails to compile. */
  readonly context: (m: MethodModel) => Printable[];
  /** What the member returns, e.g. `Promise<Res>`. */
  readonly returns: (m: MethodModel) => Printable[];
  /** The base-class call with its type arguments, e.g. `call<typeof ResSchema>`. */
  readonly via: (m: MethodModel) => Printable[];
}

/** `name(ctx: MayX, request?: Init): R { return this.<via>("name", ctx, request); }` per method. */
export function printCallMethods(s: StateScope, methods: readonly MethodModel[], how: CallMethod): void {
  const { f } = s;
  for (const m of methods) {
    f.print("  ", m.desc.localName, "(ctx: ", ...how.context(m), ", request?: ", ...requestInit(s, m), "): ", ...how.returns(m), " {");
    f.print("    return this.", ...how.via(m), "(", f.string(m.desc.localName), ", ctx, request);");
    f.print("  }");
  }
}
