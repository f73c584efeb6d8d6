import type { Message } from "@bufbuild/protobuf";
import type { ActorContext, Context } from "./context.js";
import { INVOKE, type Invocation, type Invoker, type TaskTiming } from "../api/invocation.js";
import type { MethodKind, MethodSpec } from "../api/spec.js";
import type { Call, Runtime, WriteEffects } from "./runtime.js";
import { ContextMisuse } from "../api/errors.js";
import { addCronSchedule, isCronTiming } from "./tasks/schedules.js";
import { toMillis } from "./tasks/task-record.js";

/** Who is calling: a client over the network, or a handler in this process. */
export interface Caller {
  readonly kind: Context["kind"];
  readonly internal: boolean;
  /** An external caller's bearer token, unverified. */
  readonly bearerToken?: string;
}

export const EXTERNAL_CALLER: Caller = { kind: "external", internal: false };

/** What each context kind may call (DESIGN.md §2). */
export const MAY_CALL: Record<Context["kind"], readonly MethodKind[]> = {
  reader: ["reader"],
  writer: ["reader"],
  transaction: ["reader", "writer", "transaction"],
  workflow: ["reader", "writer", "transaction", "workflow"],
  external: ["reader", "writer", "transaction", "workflow"],
};

export function refuse(from: string, kind: Context["kind"], inv: Invocation, what = "call"): ContextMisuse {
  return new ContextMisuse(
    `a ${kind} (${from}) may not ${what} the ${inv.method.kind} ${inv.spec.typeName}.${inv.method.name}; ` +
      `${kind}s may call: ${MAY_CALL[kind].join(", ")}`,
  );
}

export function toCall(inv: Invocation, idempotencyKey?: string): Call {
  return { spec: inv.spec, method: inv.method, actorId: inv.actorId, request: inv.request, idempotencyKey };
}

/** What every handler context knows about its call; it is its own invoker. */
export abstract class CallContext {
  readonly stateType: string;
  readonly actorId: string;
  readonly method: string;
  readonly internal: boolean;

  constructor(call: Call, caller: Caller) {
    this.stateType = call.spec.typeName;
    this.actorId = call.actorId;
    this.method = call.method.name;
    this.internal = caller.internal;
  }

  get [INVOKE](): this {
    return this;
  }
}

/** The context of a reader or writer handler. */
class HandlerContext extends CallContext implements ActorContext, Invoker {
  constructor(
    private readonly runtime: Runtime,
    readonly kind: "reader" | "writer",
    call: Call,
    caller: Caller,
    private readonly effects: WriteEffects | undefined,
  ) {
    super(call, caller);
  }

  invoke(inv: Invocation): Promise<Message> {
    if (!MAY_CALL[this.kind].includes(inv.method.kind)) {
      return Promise.reject(refuse(`${this.stateType}.${this.method}`, this.kind, inv));
    }
    return this.runtime.execute(toCall(inv), { kind: this.kind, internal: true });
  }

  spawn(inv: Invocation): { taskId: string; started: Promise<void> } {
    throw new ContextMisuse(`a ${this.kind} may not spawn ${inv.method.name}; use .schedule() from a writer, or spawn from a workflow`);
  }

  schedule(inv: Invocation, timing: TaskTiming): string {
    if (!this.effects) throw new ContextMisuse(`a ${this.kind} may not schedule tasks; writers and transactions may`);
    if (isCronTiming(timing)) return addCronSchedule(this.runtime, this.effects, toCall(inv), timing);
    const task = this.runtime.scheduledTask(toCall(inv), toMillis(timing.when));
    this.effects.scheduled.push(task);
    return task.taskId;
  }

  wait(_taskId: string, _method: MethodSpec): Promise<Message> {
    return Promise.reject(new ContextMisuse(`a ${this.kind} may not wait for tasks: it would hold its actor`));
  }

  control(taskId: string): Promise<void> {
    return Promise.reject(new ContextMisuse(`a ${this.kind} may not control task ${taskId}: that does not commit with it; use a workflow`));
  }

  watch(inv: Invocation): AsyncIterable<Message> {
    throw new ContextMisuse(`a ${this.kind} may not watch ${inv.method.name}: it would never return`);
  }
}

export function contextFor(
  runtime: Runtime,
  kind: "reader" | "writer",
  call: Call,
  caller: Caller,
  effects?: WriteEffects,
): ActorContext {
  return new HandlerContext(runtime, kind, call, caller, effects);
}
