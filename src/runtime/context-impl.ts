import type { Message } from "@bufbuild/protobuf";
import type { ActorContext, Context } from "./context.js";
import { INVOKE, type Invocation, type Invoker } from "./invocation.js";
import type { MethodKind } from "./spec.js";
import type { Call, Runtime } from "./runtime.js";

/** Who is calling: a client over the network, or a handler in this process. */
export interface Caller {
  readonly kind: Context["kind"];
  readonly internal: boolean;
}

export const EXTERNAL_CALLER: Caller = { kind: "external", internal: false };

/** What each context kind may call (DESIGN.md §2). */
const MAY_CALL: Record<Context["kind"], readonly MethodKind[]> = {
  reader: ["reader"],
  writer: ["reader"],
  transaction: ["reader", "writer", "transaction"],
  workflow: ["reader", "writer", "transaction", "workflow"],
  external: ["reader", "writer", "transaction", "workflow"],
};

class HandlerContext implements ActorContext, Invoker {
  readonly stateType: string;
  readonly actorId: string;
  readonly method: string;
  readonly internal: boolean;

  constructor(
    private readonly runtime: Runtime,
    readonly kind: "reader" | "writer",
    call: Call,
    caller: Caller,
  ) {
    this.stateType = call.spec.typeName;
    this.actorId = call.actorId;
    this.method = call.method.name;
    this.internal = caller.internal;
  }

  get [INVOKE](): Invoker {
    return this;
  }

  invoke(inv: Invocation): Promise<Message> {
    if (!MAY_CALL[this.kind].includes(inv.method.kind)) {
      return Promise.reject(
        new Error(
          `a ${this.kind} (${this.stateType}.${this.method}) may not call the ${inv.method.kind} ` +
            `${inv.spec.typeName}.${inv.method.name}; ${this.kind}s may call: ${MAY_CALL[this.kind].join(", ")}`,
        ),
      );
    }
    return this.runtime.execute(
      { spec: inv.spec, method: inv.method, actorId: inv.actorId, request: inv.request },
      { kind: this.kind, internal: true },
    );
  }
}

export function contextFor(runtime: Runtime, kind: "reader" | "writer", call: Call, caller: Caller): ActorContext {
  return new HandlerContext(runtime, kind, call, caller);
}
