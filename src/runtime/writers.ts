import { create, fromBinary, toBinary, type Message } from "@bufbuild/protobuf";
import type { KeyOwner, Store } from "../store/store.js";
import { deletionBatch, planDeletion } from "./actor-deletion.js";
import type { Clock } from "./clock.js";
import type { Dispatcher } from "./tasks/dispatcher.js";
import type { ActorCell } from "./actor-cache.js";
import type { ActorStates } from "./actor-states.js";
import type { Bound, Call, Caller, Mutation, WriteEffects } from "./call.js";
import { contextFor } from "./context-impl.js";
import type { Engine } from "./engine.js";
import { alreadyExists } from "../api/errors.js";
import { declaredOutcome } from "./declared-outcome.js";
import { runHandler } from "./handler.js";
import { hashRequest, type CallIdentity } from "./idempotency.js";
import { outcomeRecord, type IdempotencyTable, type Keyed } from "./idempotency-table.js";
import type { StateSpec } from "../api/spec.js";
import { replayed } from "./task-outcome.js";
import { copyMessage } from "./message-copy.js";

/** A writer method call as a mutation; its handler's context is `engine`'s, for `caller`, with the write's effects. */
export function writerMutation(bound: Bound, call: Call, engine: Engine, caller: Caller): Mutation<Message> {
  return new WriterMutation(bound, call, engine, caller);
}

/** A class, not an object of closures: one allocation per writer call. */
class WriterMutation implements Mutation<Message> {
  readonly method: string;
  readonly isConstructor: boolean;
  readonly errors: Mutation<Message>["errors"];
  readonly byTask: string | undefined;

  constructor(
    private readonly bound: Bound,
    private readonly call: Call,
    private readonly engine: Engine,
    private readonly caller: Caller,
  ) {
    this.method = call.method.name;
    this.isConstructor = call.method.isConstructor;
    this.errors = call.method.errors;
    this.byTask = caller.owner?.taskId;
  }

  requestBytes(): Uint8Array {
    return toBinary(this.call.method.desc.input, this.call.request);
  }

  apply(draft: Message, effects: WriteEffects): Promise<Message> {
    return runHandler(this.bound, this.call, contextFor(this.engine, "writer", this.call, this.caller, effects), draft);
  }

  encode(value: Message): Uint8Array {
    return toBinary(this.call.method.desc.output, value);
  }

  decode(bytes: Uint8Array): Message {
    return fromBinary(this.call.method.desc.output, bytes);
  }
}

/** The operator's deletion of an actor (Actors.Delete), as a writer calling `ctx.deleteActor()`; `effects` hears what went with it. */
export function deletionMutation(effects: (e: WriteEffects) => void): Mutation<undefined> {
  const none = new Uint8Array();
  return {
    method: "cairn.deleteActor",
    isConstructor: false,
    requestBytes: () => none,
    errors: [],
    apply: async (_draft, e) => {
      effects(e);
      e.deletion = "requested";
      return undefined;
    },
    encode: () => none,
    decode: () => undefined,
  };
}

/**
 * Runs mutations one at a time per actor, with pipelining: the actor's lock
 * is released once the handler ran and its commit was issued; durability is
 * awaited outside it, so a hot actor is not limited to one fsync per writer.
 */
export class Writers {
  constructor(
    private readonly states: ActorStates,
    private readonly store: Store,
    private readonly table: IdempotencyTable,
    private readonly clock: Clock,
    private readonly tasks: Pick<Dispatcher, "cancelledBy">,
  ) {}

  /** Runs a mutation on an actor, once per idempotency key if one is given. */
  mutate<T>(spec: StateSpec, actorId: string, mutation: Mutation<T>, key: string | undefined, owner?: KeyOwner): Promise<T> {
    if (key === undefined) return this.#write(spec, actorId, mutation, undefined);
    const identity: CallIdentity = { stateType: spec.typeName, actorId, method: mutation.method, requestHash: hashRequest(mutation.requestBytes()) };
    return this.table.once(
      key,
      identity,
      (outcome) => replayed(outcome, (bytes) => mutation.decode(bytes), mutation.errors),
      (keyed) => this.#write(spec, actorId, mutation, keyed),
      owner,
    );
  }

  /**
   * Runs a mutation under its actor's lock, released once the handler ran
   * and its commit was issued. One async function for the whole write (no
   * inner runner's promise, reply object or `then` per call).
   */
  async #write<T>(spec: StateSpec, actorId: string, mutation: Mutation<T>, keyed: Keyed | undefined): Promise<T> {
    const cell = this.states.cellOf(spec, actorId);
    cell.busy++;
    try {
      if (!cell.lock.tryAcquire()) await cell.lock.acquire();
      let durable: Promise<void>;
      let value!: T;
      // A declared error under a key: a result, thrown once it is stored.
      let declared: { readonly error: unknown; readonly record: ReturnType<typeof outcomeRecord> } | undefined;
      try {
        const base = this.states.latestOf(spec, actorId, cell);
        if (base === null && !mutation.isConstructor && !spec.defaultConstructible) this.states.absent(spec, actorId);
        if (base !== null && mutation.isConstructor) {
          throw alreadyExists(`${spec.typeName} ${JSON.stringify(actorId)} already exists`);
        }
        const draft = base ? copyMessage(spec.state, base.state) : create(spec.state);
        const effects: WriteEffects = { scheduled: [], deletion: "allowed" };
        try {
          value = await mutation.apply(draft, effects);
        } catch (e) {
          const outcome = declaredOutcome(e, mutation.errors);
          if (!keyed || !outcome) throw e;
          declared = { error: e, record: outcomeRecord(keyed, outcome) };
        }
        durable = declared
          ? this.store.commit({ states: [], idempotency: declared.record })
          : this.#commit(spec, actorId, cell, base, draft, effects, mutation, keyed, value);
      } finally {
        cell.lock.release();
      }
      // Durability is awaited outside the lock: a hot actor is not limited to one fsync per writer.
      await durable;
      if (declared) throw declared.error;
      return value;
    } finally {
      cell.busy--;
    }
  }

  /** Issues a handler's commit (its new state, effects and keyed response); resolves once durable. */
  #commit<T>(
    spec: StateSpec,
    actorId: string,
    cell: ActorCell,
    base: (ActorCell["latest"] & {}) | null,
    draft: Message,
    effects: WriteEffects,
    mutation: Mutation<T>,
    keyed: Keyed | undefined,
    value: T,
  ): Promise<void> {
    const idempotency = keyed ? outcomeRecord(keyed, { kind: "response", bytes: mutation.encode(value) }) : [];
    const deleted = effects.deletion === "requested";
    const deletion = deleted ? planDeletion(this.store, spec.typeName, actorId, mutation.byTask) : undefined;
    const durable = this.states.commitDrafts(
      [{ spec, actorId, cell, base, draft, deleted }],
      idempotency,
      effects.scheduled,
      effects.schedules,
      deletion && deletionBatch(deletion, this.clock.now()),
    );
    if (deletion) {
      effects.deleted = deletion;
      this.tasks.cancelledBy(deletion.cancelled, durable);
    }
    return durable;
  }
}
