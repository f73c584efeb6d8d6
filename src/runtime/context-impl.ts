import type { Message } from "@bufbuild/protobuf";
import type { ActorContext, Context } from "./context.js";
import { INVOKE, type Invocation, type Invoker, type TaskControl, type TaskTiming } from "../api/invocation.js";
import type { MethodKind, MethodSpec } from "../api/spec.js";
import type { Call, Caller, WriteEffects } from "./call.js";
import type { Engine } from "./engine.js";
import { MAY_CALL } from "../api/capabilities.js";
import { ContextMisuse } from "../api/errors.js";
import { isCronTiming } from "./tasks/schedules.js";
import { toMillis } from "./tasks/task-record.js";

export { EXTERNAL_CALLER, type Caller } from "./call.js";

/** What a kind of context may do besides calling; each refusal says why not and what to do instead. */
interface Capabilities {
  /** Why it may not: absent where it may. `name` is the method or task concerned. */
  readonly refuse: {
    readonly spawn?: (name: string) => string;
    readonly schedule?: (name: string) => string;
    readonly wait?: (name: string) => string;
    readonly control?: (name: string) => string;
    readonly watch?: (name: string) => string;
  };
}

/** Handlers that hold their actor (readers, writers) may not wait, control or watch. */
const holdsActor = (kind: string, what: string) => ({
  wait: () => `a ${kind} may not wait for tasks: it would hold ${what}`,
  control: (taskId: string) => `a ${kind} may not control task ${taskId}: that does not commit with it; use a workflow`,
  watch: (name: string) => `a ${kind} may not watch ${name}: it would ${kind === "transaction" ? "hold its actors" : "never return"}`,
});

/**
 * What each kind of context may do, with why not: who may call what, spawn,
 * schedule and watch is src/api/capabilities.ts (which the generated refs'
 * types read too); this adds the refusals' words.
 */
export const CAPABILITIES: Record<Context["kind"], Capabilities> = {
  reader: {
    refuse: {
      spawn: (name) => `a reader may not spawn ${name}; use .schedule() from a writer, or spawn from a workflow`,
      schedule: () => "a reader may not schedule tasks; writers and transactions may",
      ...holdsActor("reader", "its actor"),
    },
  },
  writer: {
    refuse: {
      spawn: (name) => `a writer may not spawn ${name}; use .schedule() from a writer, or spawn from a workflow`,
      ...holdsActor("writer", "its actor"),
    },
  },
  transaction: {
    refuse: {
      spawn: (name) => `a transaction schedules ${name} with .schedule(), which commits with it`,
      ...holdsActor("transaction", "its actors"),
    },
  },
  workflow: {
    refuse: {
      schedule: (name) =>
        `a workflow may not call .schedule() (writers and transactions may: the task commits with them); ` +
        `start ${name} with .spawn({ when }) instead`,
    },
  },
  // An ExternalContext (src/client/external-context.ts) sends what it may over the network.
  external: { refuse: {} },
};

export function mayCall(kind: Context["kind"], method: MethodKind): boolean {
  return (MAY_CALL[kind] as readonly MethodKind[]).includes(method);
}

export function refuse(from: string, kind: Context["kind"], inv: Invocation, what = "call"): ContextMisuse {
  return new ContextMisuse(
    `a ${kind} (${from}) may not ${what} the ${inv.method.kind} ${inv.spec.typeName}.${inv.method.name}; ` +
      `${kind}s may call: ${MAY_CALL[kind].join(", ")}`,
  );
}

export function toCall(inv: Invocation, idempotencyKey?: string): Call {
  return { spec: inv.spec, method: inv.method, actorId: inv.actorId, request: inv.request, idempotencyKey };
}

/**
 * The base of every handler context: what it knows about its call, and the
 * refusals. It is its own invoker; `invoke` checks the table, and each kind
 * overrides only what the table lets it do.
 */
export abstract class CallContext implements Invoker {
  abstract readonly kind: "reader" | "writer" | "transaction" | "workflow";
  readonly stateType: string;
  readonly actorId: string;
  readonly method: string;
  readonly internal: boolean;

  constructor(call: Pick<Call, "spec" | "method" | "actorId">, caller: Caller) {
    this.stateType = call.spec.typeName;
    this.actorId = call.actorId;
    this.method = call.method.name;
    this.internal = caller.internal;
  }

  get [INVOKE](): this {
    return this;
  }

  /** Who this context is as a caller. */
  protected get caller(): Caller {
    return { kind: this.kind, internal: true };
  }

  invoke(inv: Invocation): Promise<Message> {
    if (!mayCall(this.kind, inv.method.kind)) {
      return Promise.reject(refuse(this.kind === "workflow" ? this.method : `${this.stateType}.${this.method}`, this.kind, inv));
    }
    return this.call(inv);
  }

  /** A call the table allows. */
  protected abstract call(inv: Invocation): Promise<Message>;

  #refusal(what: keyof Capabilities["refuse"], name: string): ContextMisuse {
    const why = CAPABILITIES[this.kind].refuse[what];
    return new ContextMisuse(why ? why(name) : `a ${this.kind} may not ${what} ${name}`);
  }

  spawn(inv: Invocation, _timing: TaskTiming): { taskId: string; started: Promise<void> } {
    throw this.#refusal("spawn", inv.method.name);
  }

  schedule(inv: Invocation, _timing: TaskTiming): string {
    throw this.#refusal("schedule", inv.method.name);
  }

  wait(taskId: string, _method: MethodSpec): Promise<Message> {
    return Promise.reject(this.#refusal("wait", taskId));
  }

  control(taskId: string, _action: TaskControl): Promise<void> {
    return Promise.reject(this.#refusal("control", taskId));
  }

  watch(inv: Invocation, _signal?: AbortSignal): AsyncIterable<Message> {
    throw this.#refusal("watch", inv.method.name);
  }
}

/** `.schedule()` from a writer or transaction: a task or cron schedule added to its commit. */
export function scheduleInto(engine: Engine, effects: WriteEffects, inv: Invocation, timing: TaskTiming): string {
  const call = toCall(inv);
  if (isCronTiming(timing)) {
    const { scheduleId, record } = engine.cronSchedule(call, timing);
    if (record) (effects.schedules ??= []).push(record);
    return scheduleId;
  }
  const task = engine.scheduledTask(call, toMillis(timing.when));
  effects.scheduled.push(task);
  return task.taskId;
}

/** The context of a reader handler: it may call readers. */
class ReaderContextImpl extends CallContext implements ActorContext {
  readonly kind: "reader" | "writer" = "reader";

  constructor(
    protected readonly engine: Engine,
    call: Call,
    caller: Caller,
  ) {
    super(call, caller);
  }

  protected call(inv: Invocation): Promise<Message> {
    return this.engine.execute(toCall(inv), this.caller);
  }
}

/** The context of a writer handler: a reader's, and it may schedule tasks into its commit. */
class WriterContextImpl extends ReaderContextImpl {
  override readonly kind = "writer" as const;

  constructor(
    engine: Engine,
    call: Call,
    caller: Caller,
    private readonly effects: WriteEffects,
  ) {
    super(engine, call, caller);
  }

  override schedule(inv: Invocation, timing: TaskTiming): string {
    return scheduleInto(this.engine, this.effects, inv, timing);
  }

  deleteActor(): void {
    if (this.effects.deletion === undefined) {
      throw new ContextMisuse(`${this.stateType}.${this.method} may not delete its actor inside a transaction: call it on its own`);
    }
    this.effects.deletion = "requested";
  }
}

export function contextFor(engine: Engine, kind: "reader" | "writer", call: Call, caller: Caller, effects?: WriteEffects): ActorContext {
  if (kind === "reader") return new ReaderContextImpl(engine, call, caller);
  return new WriterContextImpl(engine, call, caller, effects ?? { scheduled: [] });
}
