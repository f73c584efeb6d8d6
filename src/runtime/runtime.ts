import { clone, create, fromBinary, toBinary, type Message } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import type { Store, CommitBatch, StoredOutcome } from "../store/store.js";
import { ActorCache, type ActorCell, type Snapshot } from "./actor-cache.js";
import { contextFor, type Caller } from "./context-impl.js";
import { Aborted, alreadyExists, internal, invalidArgument, notFound, unimplemented } from "./errors.js";
import { checkSameCall, hashRequest, type CallIdentity } from "./idempotency.js";
import type { Servicer, ServicerClass } from "./servicer.js";
import type { MethodSpec, StateSpec } from "./spec.js";

/** A call as the runtime executes it: the key is already derived. */
export interface Call {
  readonly spec: StateSpec;
  readonly method: MethodSpec;
  readonly actorId: string;
  readonly request: Message;
  readonly idempotencyKey?: string;
}

export interface RuntimeOptions {
  /** Decoded actor states kept in memory (LRU). */
  maxCachedActors?: number;
}

const MAX_ACTOR_ID_BYTES = 512;

type Handler = (this: Servicer, ...args: unknown[]) => Promise<unknown>;

interface Bound {
  readonly spec: StateSpec;
  readonly servicer: Servicer;
}

/**
 * Executes calls on actors: finds the servicer, loads the state, runs
 * readers concurrently on the last durable snapshot and writers one at a
 * time per actor, and makes every writer's effect durable before replying.
 */
export class Runtime {
  readonly #bound = new Map<string, Bound>();
  readonly #cache: ActorCache;
  /** Keys whose first call is still running: duplicates wait for it. */
  readonly #pendingKeys = new Map<string, { identity: CallIdentity; settled: Promise<void> }>();

  constructor(
    readonly store: Store,
    servicers: readonly ServicerClass[],
    options: RuntimeOptions = {},
  ) {
    this.#cache = new ActorCache(options.maxCachedActors ?? 10_000);
    for (const S of servicers) {
      if (this.#bound.has(S.spec.typeName)) throw new Error(`two servicers for ${S.spec.typeName}`);
      this.#bound.set(S.spec.typeName, { spec: S.spec, servicer: new S() });
    }
  }

  get specs(): StateSpec[] {
    return [...this.#bound.values()].map((b) => b.spec);
  }

  get cachedActors(): number {
    return this.#cache.size;
  }

  async execute(call: Call, caller: Caller): Promise<Message> {
    if (!call.actorId) throw invalidArgument("missing actor id: every call needs the x-cairn-actor-id header");
    if (Buffer.byteLength(call.actorId) > MAX_ACTOR_ID_BYTES) {
      throw invalidArgument(`actor id longer than ${MAX_ACTOR_ID_BYTES} bytes`);
    }
    const bound = this.#bound.get(call.spec.typeName);
    if (!bound) throw unimplemented(`this application serves no ${call.spec.typeName}`);
    switch (call.method.kind) {
      case "reader":
        return this.#read(bound, call, caller);
      case "writer":
        return call.idempotencyKey !== undefined
          ? this.#writeIdempotently(bound, call, caller, call.idempotencyKey)
          : this.#write(bound, call, caller, undefined);
      default:
        throw unimplemented(
          `${call.spec.service.typeName}.${call.method.desc.name} is a ${call.method.kind} method;` +
            ` ${call.method.kind}s are not served by this version of Cairn yet`,
        );
    }
  }

  async #read(bound: Bound, call: Call, caller: Caller): Promise<Message> {
    const cell = this.#cache.cell(bound.spec.typeName, call.actorId);
    const snapshot = this.#durable(cell, bound.spec, call.actorId);
    const state = snapshot?.state ?? this.#absent(bound.spec, call);
    return this.#handle(bound, call, contextFor(this, "reader", call, caller), state);
  }

  #durable(cell: ActorCell, spec: StateSpec, actorId: string): Snapshot | null {
    if (cell.durable === undefined) cell.durable = this.#loadFromStore(spec, actorId);
    return cell.durable;
  }

  #absent(spec: StateSpec, call: Call): Message {
    if (spec.defaultConstructible) return create(spec.state);
    throw notFound(`${spec.typeName} ${JSON.stringify(call.actorId)} does not exist; call a constructor first`);
  }

  async #writeIdempotently(bound: Bound, call: Call, caller: Caller, key: string): Promise<Message> {
    const identity: CallIdentity = {
      stateType: bound.spec.typeName,
      actorId: call.actorId,
      method: call.method.name,
      requestHash: hashRequest(toBinary(call.method.desc.input, call.request)),
    };
    for (;;) {
      const pending = this.#pendingKeys.get(key);
      if (pending) {
        checkSameCall(key, pending.identity, identity);
        await pending.settled;
        continue;
      }
      const stored = this.store.getIdempotency(key);
      if (stored) {
        checkSameCall(key, stored, identity);
        return this.#replay(call.method, stored.outcome);
      }
      break;
    }
    let settle!: () => void;
    this.#pendingKeys.set(key, { identity, settled: new Promise<void>((r) => (settle = r)) });
    try {
      return await this.#write(bound, call, caller, { key, identity });
    } finally {
      this.#pendingKeys.delete(key);
      settle();
    }
  }

  #replay(method: MethodSpec, outcome: StoredOutcome): Message {
    if (outcome.kind === "response") return fromBinary(method.desc.output, outcome.bytes);
    const schema = method.errors.find((e) => e.typeName === outcome.typeName);
    if (!schema) throw internal(`stored error ${outcome.typeName} is no longer declared by ${method.name}`);
    const AbortedClass = method.aborted ?? Aborted;
    throw new AbortedClass(fromBinary(schema, outcome.bytes) as never, outcome.message);
  }

  async #write(
    bound: Bound,
    call: Call,
    caller: Caller,
    idempotency: { key: string; identity: CallIdentity } | undefined,
  ): Promise<Message> {
    const cell = this.#cache.cell(bound.spec.typeName, call.actorId);
    cell.busy++;
    try {
      // The queue advances once the handler ran and its commit was issued;
      // durability is awaited outside it, so a hot actor is not limited to
      // one fsync per writer.
      const ran = cell.queue.then(() => this.#runWriter(bound, cell, call, caller, idempotency));
      cell.queue = ran.then(
        () => undefined,
        () => undefined,
      );
      const { reply } = await ran;
      return await reply;
    } finally {
      cell.busy--;
    }
  }

  async #runWriter(
    bound: Bound,
    cell: ActorCell,
    call: Call,
    caller: Caller,
    idempotency: { key: string; identity: CallIdentity } | undefined,
  ): Promise<{ reply: Promise<Message> }> {
    const { spec } = bound;
    if (cell.latest === undefined || cell.latest?.lineage.broken) {
      const loaded = this.#loadFromStore(spec, call.actorId);
      if (cell.durable === undefined) cell.durable = loaded;
      cell.latest = loaded && { ...loaded, lineage: { broken: false } };
    }
    const base = cell.latest;
    if (base === null && !call.method.isConstructor && !spec.defaultConstructible) this.#absent(spec, call);
    if (base !== null && call.method.isConstructor) {
      throw alreadyExists(`${spec.typeName} ${JSON.stringify(call.actorId)} already exists`);
    }
    const draft = base ? clone(spec.state, base.state) : create(spec.state);
    const record = (outcome: StoredOutcome) =>
      idempotency ? [{ key: idempotency.key, record: { ...idempotency.identity, outcome } }] : [];
    let response: Message;
    try {
      response = await this.#handle(bound, call, contextFor(this, "writer", call, caller), draft);
    } catch (e) {
      if (!(e instanceof Aborted) || !idempotency) throw e;
      // A declared error is a result: remember it under the key.
      const outcome: StoredOutcome = {
        kind: "aborted",
        typeName: e.error.$typeName,
        bytes: toBinary(call.method.errors.find((s) => s.typeName === e.error.$typeName)!, e.error),
        message: e.message,
      };
      return { reply: this.store.commit({ states: [], idempotency: record(outcome) }).then(() => Promise.reject(e)) };
    }
    const baseVersion = base?.version ?? 0;
    const lineage = base?.lineage ?? { broken: false };
    const snapshot: Snapshot = { version: baseVersion + 1, state: draft };
    cell.latest = { ...snapshot, lineage };
    const batch: CommitBatch = {
      states: [
        {
          stateType: spec.typeName,
          actorId: call.actorId,
          baseVersion,
          state: { version: snapshot.version, bytes: toBinary(spec.state, draft) },
        },
      ],
      idempotency: record({ kind: "response", bytes: toBinary(call.method.desc.output, response) }),
    };
    const reply = this.store.commit(batch).then(
      () => {
        if (!cell.durable || cell.durable.version < snapshot.version) cell.durable = snapshot;
        return response;
      },
      (err: unknown) => {
        lineage.broken = true;
        throw internal(`commit failed, nothing was written: ${String(err)}`);
      },
    );
    return { reply };
  }

  #loadFromStore(spec: StateSpec, actorId: string): Snapshot | null {
    const stored = this.store.getState(spec.typeName, actorId);
    return stored ? { version: stored.version, state: fromBinary(spec.state, stored.bytes) } : null;
  }

  async #handle(bound: Bound, call: Call, ctx: unknown, state: Message): Promise<Message> {
    const { method } = call;
    const fn = (bound.servicer as unknown as Record<string, Handler | undefined>)[method.name];
    if (typeof fn !== "function") {
      throw unimplemented(`${bound.servicer.constructor.name} does not implement ${method.name}`);
    }
    let result: unknown;
    try {
      result = await fn.call(bound.servicer, ctx, state, call.request);
    } catch (e) {
      throw classify(e, bound.spec, method);
    }
    return create(method.desc.output, (result ?? {}) as Record<string, unknown>);
  }
}

/** What a handler's throw becomes for the caller (DESIGN.md §3). */
function classify(e: unknown, spec: StateSpec, method: MethodSpec): Error {
  const where = `${spec.service.typeName}.${method.desc.name}`;
  if (e instanceof Aborted) {
    const declared = method.errors.some((s) => s.typeName === e.error.$typeName);
    if (!declared) return internal(`${where} aborted with undeclared error ${e.error.$typeName}`);
    const Typed = method.aborted;
    const isTyped = !Typed || e instanceof Typed;
    return isTyped ? e : new Typed((e as Aborted).error as never, (e as Aborted).message);
  }
  if (e instanceof ConnectError) return e;
  console.error(`cairn: ${where} threw`, e);
  return internal(`${where} failed: ${e instanceof Error ? e.message : String(e)}`);
}
