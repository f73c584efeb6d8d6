import { create, type DescMessage, type Message, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import type { Context } from "./context.js";
import { ContextMisuse } from "./errors.js";
import { INVOKE, type IdempotencyChoice, type Invocation, type TaskTiming } from "./invocation.js";
import type { MethodSpec } from "./spec.js";
import type { StateSpec } from "./spec.js";

/**
 * A typed handle on one actor. Generated `<State>Ref` classes add one method
 * per RPC; modifiers return a new ref and never change this one.
 */
export class Ref<S extends DescMessage = DescMessage> {
  readonly #idempotency: IdempotencyChoice;

  constructor(
    readonly spec: StateSpec<S>,
    readonly id: string,
    idempotency: IdempotencyChoice = { kind: "unset" },
  ) {
    this.#idempotency = idempotency;
  }

  /**
   * Calls through the returned ref carry an idempotency key: derived from the
   * context's seed, the target and `alias`, or `{ key }` used as is.
   */
  idempotently(aliasOrKey: string | { key: string } = ""): this {
    return this.#with(
      typeof aliasOrKey === "string"
        ? { kind: "alias", alias: aliasOrKey }
        : { kind: "key", key: aliasOrKey.key },
    );
  }

  /** Calls through the returned ref carry no idempotency key, on purpose. */
  unidempotently(): this {
    return this.#with({ kind: "none" });
  }

  protected call<O extends DescMessage>(
    method: string,
    ctx: Context,
    request: MessageInitShape<DescMessage> | undefined,
  ): Promise<MessageShape<O>> {
    return ctx[INVOKE].invoke(this.invocation(method, request)) as Promise<MessageShape<O>>;
  }

  /** Runtime internals: the call a ref method describes. */
  invocation(method: string, request: MessageInitShape<DescMessage> | undefined): Invocation {
    const spec = this.spec.methods[method];
    if (!spec) throw new Error(`${this.spec.typeName} has no method ${method}`);
    return {
      spec: this.spec,
      method: spec,
      actorId: this.id,
      request: create(spec.desc.input, request ?? {}),
      idempotency: this.#idempotency,
    };
  }

  #with(idempotency: IdempotencyChoice): this {
    const Ctor = this.constructor as new (spec: StateSpec<S>, id: string, i: IdempotencyChoice) => this;
    return new Ctor(this.spec, this.id, idempotency);
  }
}

/**
 * A durable task started by `ref.spawn()`: `await` it for the method's
 * response (or its typed error), from this process or, by id, another.
 */
export class Task<R extends Message = Message> implements PromiseLike<R> {
  #result: Promise<R> | undefined;

  /**
   * @param started settles once the task is durable (or with why it could
   *   not start); omit it for a task started elsewhere.
   */
  constructor(
    readonly taskId: string,
    private readonly ctx: Context,
    private readonly method: MethodSpec,
    readonly started: Promise<void> = Promise.resolve(),
  ) {
    // Awaiting the task reports a failed start; don't also report it unhandled.
    started.catch(() => undefined);
  }

  then<A = R, B = never>(
    onfulfilled?: ((value: R) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    this.#result ??= this.started.then(() => this.ctx[INVOKE].wait(this.taskId, this.method) as Promise<R>);
    return this.#result.then(onfulfilled, onrejected);
  }

  /** Ends the task as CANCELLED; awaiting it then rejects with CANCELED. */
  cancel(): Promise<void> {
    return this.started.then(() => this.ctx[INVOKE].control(this.taskId, "cancel"));
  }

  /** Holds the task until `resume()`: it parks at its next checkpoint or durable step. */
  pause(): Promise<void> {
    return this.started.then(() => this.ctx[INVOKE].control(this.taskId, "pause"));
  }

  resume(): Promise<void> {
    return this.started.then(() => this.ctx[INVOKE].control(this.taskId, "resume"));
  }
}

/** Base of generated `<State>Spawner`s: `ref.spawn()` starts tasks. */
export class Spawner<S extends DescMessage = DescMessage> {
  constructor(
    protected readonly ref: Ref<S>,
    protected readonly timing: TaskTiming = {},
  ) {}

  /** Returns the handle at once; `await task.started` to know it is durable. */
  protected spawnCall<O extends DescMessage>(
    method: string,
    ctx: Context,
    request: MessageInitShape<DescMessage> | undefined,
  ): Task<MessageShape<O>> {
    const invocation = this.ref.invocation(method, request);
    if (this.timing.cron !== undefined) {
      throw new ContextMisuse(`spawn() starts one task; cron schedules are made with ref.schedule({ cron }) from a writer or transaction`);
    }
    const { taskId, started } = ctx[INVOKE].spawn(invocation, this.timing);
    return new Task(taskId, ctx, invocation.method, started);
  }
}

/** Base of generated `<State>Scheduler`s: `ref.schedule()` from a writer. */
export class Scheduler<S extends DescMessage = DescMessage> {
  constructor(
    protected readonly ref: Ref<S>,
    protected readonly timing: TaskTiming = {},
  ) {}

  /** Returns the task id; the task exists only if the calling writer commits. */
  protected scheduleCall(method: string, ctx: Context, request: MessageInitShape<DescMessage> | undefined): string {
    return ctx[INVOKE].schedule(this.ref.invocation(method, request), this.timing);
  }
}

/** Base of generated `<State>Reactive`s: `ref.reactively()` watches readers. */
export class Reactive<S extends DescMessage = DescMessage> {
  constructor(
    protected readonly ref: Ref<S>,
    protected readonly signal?: AbortSignal,
  ) {}

  /** Responses now and after each change; `break` (or the signal) ends it. */
  protected watchCall<O extends DescMessage>(
    method: string,
    ctx: Context,
    request: MessageInitShape<DescMessage> | undefined,
  ): AsyncIterable<MessageShape<O>> {
    return ctx[INVOKE].watch(this.ref.invocation(method, request), this.signal) as AsyncIterable<MessageShape<O>>;
  }
}
