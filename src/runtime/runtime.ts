import { clone, create, fromBinary, toBinary, type DescMessage, type Message } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { enforce, type Authorizer, type Claims, type TokenVerifier } from "./authorization.js";
import { CommitConflictError, type CommitBatch, type IdempotencyRecord, type ScheduleRecord, type Store, type StoredOutcome, type TaskRecord } from "../store/store.js";
import { systemClock, type Clock } from "./clock.js";
import type { CronTiming } from "../api/invocation.js";
import { CronSchedules, defineSchedule } from "./tasks/schedules.js";
import { ActorCache, type ActorCell, type Snapshot } from "./actor-cache.js";
import { contextFor, type Caller } from "./context-impl.js";
import { validateActorId } from "../api/actor-id.js";
import { Aborted, StoreUnavailable, alreadyExists, failedPrecondition, internal, invalidArgument, notFound, permissionDenied, unimplemented } from "../api/errors.js";
import { declaredOutcome } from "./declared-outcome.js";
import { MonitoredStore } from "./monitored-store.js";
import { StoreHealth } from "./store-health.js";
import { checkSameCall, hashRequest, type CallIdentity } from "./idempotency.js";
import { recordRead } from "./read-tracking.js";
import { publishCommit } from "./commit-channel.js";
import type { Servicer, ServicerClass } from "./servicer.js";
import type { MethodSpec, StateSpec } from "../api/spec.js";
import { Dispatcher, type RetryPolicy } from "./tasks/dispatcher.js";
import { isReservedTaskId, isValidTaskId, newTaskRecord, taskIdForKey } from "./tasks/task-record.js";
import { spawnedEvents } from "./tasks/task-events.js";
import { Watchers } from "./watchers.js";
import { LockConflict, Transaction, nextAge, outcomeRecord, runInTransaction } from "./transaction.js";

/** A call as the runtime executes it: the key is already derived. */
export interface Call {
  readonly spec: StateSpec;
  readonly method: MethodSpec;
  readonly actorId: string;
  readonly request: Message;
  readonly idempotencyKey?: string;
  /** Fires when the caller goes away (a client closed the request): stop waiting for it. */
  readonly signal?: AbortSignal;
}

export interface RuntimeOptions {
  /** Verifies external callers' bearer tokens into claims. */
  tokenVerifier?: TokenVerifier;
  /** Allows external calls to servicers without an authorizer. Never in production. */
  insecureDevelopmentMode?: boolean;
  /** Decoded actor states kept in memory (LRU). */
  maxCachedActors?: number;
  /** Default workflow retry policy. */
  retry?: Partial<RetryPolicy>;
  /** Task runs at once; more due tasks queue. Default 1,000. */
  maxRunningTasks?: number;
  /** Time for task timers, Loop, sleep, backoff and cron; tests pass an AdjustableClock. */
  clock?: Clock;
}

/** What a mutation may add to its commit besides the new state. */
export interface WriteEffects {
  readonly scheduled: TaskRecord[];
  /** Cron schedules (`ref.schedule({ cron })`). */
  schedules?: ScheduleRecord[];
}

/**
 * One state change on one actor: a writer method, or a workflow's inline
 * `state.write`. `apply` mutates the draft and returns the result and its
 * bytes (stored under the idempotency key); `decode` reads them back.
 */
export interface Mutation<T> {
  readonly method: string;
  readonly isConstructor: boolean;
  readonly requestBytes: Uint8Array;
  apply(draft: Message, effects: WriteEffects): Promise<{ value: T; bytes: Uint8Array }>;
  decode(bytes: Uint8Array): T;
  /** Declared errors, stored as results under the key. */
  readonly errors: readonly DescMessage[];
}

type Handler = (this: Servicer, ...args: unknown[]) => Promise<unknown>;

export interface Bound {
  readonly spec: StateSpec;
  readonly servicer: Servicer;
  readonly authorizer: Authorizer | undefined;
}

/**
 * Executes calls on actors: finds the servicer, loads the state, runs
 * readers concurrently on the last durable snapshot and writers one at a
 * time per actor, makes every writer's effect durable before replying, and
 * owns the task dispatcher that runs workflows.
 */
export class Runtime {
  readonly #bound = new Map<string, Bound>();
  readonly #cache: ActorCache;
  /** Keys whose first call is still running: duplicates wait for it. */
  readonly #pendingKeys = new Map<string, { identity: CallIdentity; settled: Promise<void> }>();
  readonly watchers = new Watchers();
  readonly tasks: Dispatcher;
  readonly schedules: CronSchedules;
  readonly clock: Clock;
  readonly #options: RuntimeOptions;
  /** The store; its commits report to `health` and fail as StoreUnavailable. */
  readonly store: Store;
  /** Whether the store takes writes (readiness), and who is told when it does again. */
  readonly health: StoreHealth;

  constructor(
    store: Store,
    servicers: readonly ServicerClass[],
    options: RuntimeOptions = {},
  ) {
    this.health = new StoreHealth(store);
    this.store = new MonitoredStore(store, this.health);
    this.#cache = new ActorCache(options.maxCachedActors ?? 10_000);
    for (const S of servicers) {
      if (this.#bound.has(S.spec.typeName)) throw new Error(`two servicers for ${S.spec.typeName}`);
      const servicer = new S() as Servicer;
      this.#bound.set(S.spec.typeName, { spec: S.spec, servicer, authorizer: servicer.authorizer() as Authorizer | undefined });
    }
    this.#options = options;
    this.clock = options.clock ?? systemClock;
    this.tasks = new Dispatcher(this, options.retry, options.maxRunningTasks);
    this.schedules = new CronSchedules(this);
    // Work whose bookkeeping the store refused runs again at once.
    this.health.onWritable(() => {
      this.tasks.storeWritable();
      this.schedules.recover();
    });
  }

  get specs(): StateSpec[] {
    return [...this.#bound.values()].map((b) => b.spec);
  }

  get cachedActors(): number {
    return this.#cache.size;
  }

  bound(typeName: string): Bound {
    const bound = this.#bound.get(typeName);
    if (!bound) throw unimplemented(`this application serves no ${typeName}`);
    return bound;
  }

  async execute(call: Call, caller: Caller): Promise<Message> {
    const bound = this.validate(call);
    if (!caller.internal) await this.#authorize(bound, call, caller);
    switch (call.method.kind) {
      case "reader":
        return this.#read(bound, call, caller);
      case "writer":
        return this.mutate(bound.spec, call.actorId, this.#writerMutation(bound, call, caller), call.idempotencyKey);
      case "transaction":
        return this.#transact(bound, call, caller);
      case "workflow": {
        // A direct call spawns the workflow and waits for its outcome.
        const taskId = await this.spawn(call, undefined, undefined, { kind: caller.kind, internal: true });
        return this.waitTask(taskId, call.method, call.signal);
      }
    }
  }

  // ---- transactions -------------------------------------------------------

  #transact(bound: Bound, call: Call, caller: Caller): Promise<Message> {
    const key = call.idempotencyKey;
    if (key === undefined) return this.#transactOnce(bound, call, caller, undefined);
    const identity: CallIdentity = {
      stateType: bound.spec.typeName,
      actorId: call.actorId,
      method: call.method.name,
      requestHash: hashRequest(toBinary(call.method.desc.input, call.request)),
    };
    const replay = (outcome: StoredOutcome): Message => {
      if (outcome.kind === "response") return fromBinary(call.method.desc.output, outcome.bytes);
      if (outcome.kind === "aborted") throw this.#abortedFrom(outcome, call.method.errors, call.method);
      throw failedPrecondition("idempotency key was used to spawn a task, not for this call");
    };
    return this.#once(key, identity, replay, () => this.#transactOnce(bound, call, caller, { key, identity }));
  }

  /**
   * Runs the transaction, retrying it from the top when wait-die makes it
   * give way to an older one (nothing of a failed attempt is kept).
   */
  async #transactOnce(
    bound: Bound,
    call: Call,
    caller: Caller,
    keyed: { key: string; identity: CallIdentity } | undefined,
  ): Promise<Message> {
    const age = nextAge();
    for (let attempt = 1; ; attempt++) {
      const txn = new Transaction(this, age);
      let committed: Promise<void> | undefined;
      try {
        const response = await runInTransaction(this, txn, call, caller);
        const bytes = toBinary(call.method.desc.output, response);
        committed = txn.commit(outcomeRecord(keyed, { kind: "response", bytes }));
        await committed;
        return response;
      } catch (e) {
        if (committed) throw e;
        txn.abort();
        if (e instanceof LockConflict && attempt < 10_000) {
          await new Promise((r) => setTimeout(r, Math.random() * Math.min(20, attempt)));
          continue;
        }
        const outcome = declaredOutcome(e, call.method.errors);
        if (keyed && outcome) await this.store.commit({ states: [], idempotency: outcomeRecord(keyed, outcome) });
        throw e;
      }
    }
  }

  /** The verified claims of a caller's token; UNAUTHENTICATED if it is not valid. */
  async #claimsOf(caller: Caller): Promise<Claims | undefined> {
    const verifier = this.#options.tokenVerifier;
    if (caller.bearerToken === undefined || !verifier) return undefined;
    const claims = await Promise.resolve()
      .then(() => verifier(caller.bearerToken!))
      .catch(() => undefined);
    if (!claims) throw new ConnectError("the bearer token is not valid", Code.Unauthenticated);
    return claims;
  }

  /**
   * Operator calls (listing every task): for tokens whose claims say
   * `cairn_admin: true`, or anyone in insecure development mode.
   */
  async authorizeAdmin(caller: Caller): Promise<void> {
    if (caller.internal || this.#options.insecureDevelopmentMode) return;
    const claims = await this.#claimsOf(caller);
    if (claims?.cairn_admin === true) return;
    if (!claims) throw new ConnectError("operator calls need a bearer token with cairn_admin: true", Code.Unauthenticated);
    throw permissionDenied("operator calls need cairn_admin: true in the token's claims");
  }

  /** External calls only: the servicer's authorizer decides (DESIGN.md §7). */
  async #authorize(bound: Bound, call: Call, caller: Caller, claims?: Claims): Promise<void> {
    claims ??= await this.#claimsOf(caller);
    const context = { internal: false, claims, stateType: bound.spec.typeName, actorId: call.actorId, method: call.method.name };
    if (!bound.authorizer) {
      if (this.#options.insecureDevelopmentMode) return;
      throw permissionDenied(
        `${bound.spec.typeName} has no authorizer, so external calls are denied: override authorizer() ` +
          `in its servicer (or start the Application with insecureDevelopmentMode, for development only)`,
      );
    }
    const rule = bound.authorizer.ruleFor(call.method.name);
    let state: Message | undefined;
    if (rule.kind === "allowIf") {
      const cell = this.#cache.cell(bound.spec.typeName, call.actorId);
      if (cell.durable === undefined) cell.durable = this.#loadFromStore(bound.spec, call.actorId);
      state = cell.durable?.state;
    }
    await enforce(rule, { context, state, request: call.request });
  }

  /**
   * Who may see a task's status, progress and result (Tasks.Get, Wait,
   * Watch): operators, and callers its method's authorizer lets call that
   * method on that actor with that request now. Knowing an id is not enough:
   * a keyed task's id follows from its key, which may be guessable.
   */
  async authorizeTaskRead(task: TaskRecord, caller: Caller): Promise<void> {
    if (caller.internal) return;
    const claims = await this.#claimsOf(caller);
    if (claims?.cairn_admin === true) return;
    const bound = this.bound(task.stateType);
    const method = Object.values(bound.spec.methods).find((m) => m.name === task.method);
    if (!method) throw failedPrecondition(`${task.stateType} no longer has the method ${task.method} of task ${task.taskId}`);
    const call: Call = { spec: bound.spec, method, actorId: task.actorId, request: fromBinary(method.desc.input, task.request) };
    await this.#authorize(bound, call, caller, claims);
  }

  /** The servicer of a call whose actor id is valid. */
  validate(call: Call): Bound {
    validateActorId(call.actorId);
    return this.bound(call.spec.typeName);
  }

  // ---- readers ----------------------------------------------------------

  async #read(bound: Bound, call: Call, caller: Caller): Promise<Message> {
    const state = this.readState(bound.spec, call.actorId);
    return this.runHandler(bound, call, contextFor(this, "reader", call, caller), state);
  }

  /** The last durable state, recorded for `until`; NOT_FOUND if absent. */
  readState(spec: StateSpec, actorId: string): Message {
    const cell = this.#cache.cell(spec.typeName, actorId);
    if (cell.durable === undefined) cell.durable = this.#loadFromStore(spec, actorId);
    recordRead(Watchers.key(spec.typeName, actorId), cell.durable?.version ?? 0);
    return cell.durable?.state ?? this.absent(spec, actorId);
  }

  /** Durable version of an actor (0: absent), without loading its state. */
  durableVersion(key: string): number {
    const cell = this.#cache.peek(key);
    if (cell?.durable !== undefined) return cell.durable?.version ?? 0;
    const [stateType, actorId] = key.split("\u0000") as [string, string];
    return this.store.getState(stateType, actorId)?.version ?? 0;
  }

  absent(spec: StateSpec, actorId: string): Message {
    if (spec.defaultConstructible) return create(spec.state);
    throw notFound(`${spec.typeName} ${JSON.stringify(actorId)} does not exist; call a constructor first`);
  }

  // ---- writers ----------------------------------------------------------

  #writerMutation(bound: Bound, call: Call, caller: Caller): Mutation<Message> {
    const { method } = call;
    return {
      method: method.name,
      isConstructor: method.isConstructor,
      requestBytes: toBinary(method.desc.input, call.request),
      errors: method.errors,
      apply: async (draft, effects) => {
        const ctx = contextFor(this, "writer", call, caller, effects);
        const value = await this.runHandler(bound, call, ctx, draft);
        return { value, bytes: toBinary(method.desc.output, value) };
      },
      decode: (bytes) => fromBinary(method.desc.output, bytes),
    };
  }

  /** Runs a mutation on an actor, once per idempotency key if one is given. */
  mutate<T>(spec: StateSpec, actorId: string, mutation: Mutation<T>, key: string | undefined): Promise<T> {
    if (key === undefined) return this.#write(spec, actorId, mutation, undefined);
    const identity: CallIdentity = {
      stateType: spec.typeName,
      actorId,
      method: mutation.method,
      requestHash: hashRequest(mutation.requestBytes),
    };
    return this.#once(key, identity, (outcome) => this.#replayMutation(mutation, outcome), () =>
      this.#write(spec, actorId, mutation, { key, identity }),
    );
  }

  /**
   * Runs `run` at most once per key: a duplicate waits for the first, then
   * replays its stored outcome; a key used for another call is refused.
   */
  async #once<T>(
    key: string,
    identity: CallIdentity,
    replay: (outcome: StoredOutcome) => T | Promise<T>,
    run: () => Promise<T>,
  ): Promise<T> {
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
        return replay(stored.outcome);
      }
      break;
    }
    let settle!: () => void;
    this.#pendingKeys.set(key, { identity, settled: new Promise<void>((r) => (settle = r)) });
    try {
      return await run();
    } finally {
      this.#pendingKeys.delete(key);
      settle();
    }
  }

  #replayMutation<T>(mutation: Mutation<T>, outcome: StoredOutcome): T {
    if (outcome.kind === "response") return mutation.decode(outcome.bytes);
    if (outcome.kind === "aborted") throw this.#abortedFrom(outcome, mutation.errors, undefined);
    throw failedPrecondition("idempotency key was used to spawn a task, not for this call");
  }

  #abortedFrom(outcome: Extract<StoredOutcome, { kind: "aborted" }>, errors: readonly DescMessage[], method?: MethodSpec) {
    const schema = errors.find((e) => e.typeName === outcome.typeName);
    if (!schema) return internal(`stored error ${outcome.typeName} is no longer declared`);
    const AbortedClass = method?.aborted ?? Aborted;
    return new AbortedClass(fromBinary(schema, outcome.bytes) as never, outcome.message);
  }

  async #write<T>(
    spec: StateSpec,
    actorId: string,
    mutation: Mutation<T>,
    idempotency: { key: string; identity: CallIdentity } | undefined,
  ): Promise<T> {
    const cell = this.#cache.cell(spec.typeName, actorId);
    cell.busy++;
    try {
      // The lock is released once the handler ran and its commit was issued;
      // durability is awaited outside it, so a hot actor is not limited to
      // one fsync per writer.
      await cell.lock.acquire();
      let reply: Promise<T>;
      try {
        ({ reply } = await this.#runWriter(spec, actorId, cell, mutation, idempotency));
      } finally {
        cell.lock.release();
      }
      return await reply;
    } finally {
      cell.busy--;
    }
  }

  async #runWriter<T>(
    spec: StateSpec,
    actorId: string,
    cell: ActorCell,
    mutation: Mutation<T>,
    idempotency: { key: string; identity: CallIdentity } | undefined,
  ): Promise<{ reply: Promise<T> }> {
    const base = this.latestOf(spec, actorId, cell);
    if (base === null && !mutation.isConstructor && !spec.defaultConstructible) this.absent(spec, actorId);
    if (base !== null && mutation.isConstructor) {
      throw alreadyExists(`${spec.typeName} ${JSON.stringify(actorId)} already exists`);
    }
    const draft = base ? clone(spec.state, base.state) : create(spec.state);
    const record = (outcome: StoredOutcome): Array<{ key: string; record: IdempotencyRecord }> =>
      idempotency ? [{ key: idempotency.key, record: { ...idempotency.identity, outcome } }] : [];
    const effects: WriteEffects = { scheduled: [] };
    let result: { value: T; bytes: Uint8Array };
    try {
      result = await mutation.apply(draft, effects);
    } catch (e) {
      const outcome = declaredOutcome(e, mutation.errors);
      if (!idempotency || !outcome) throw e;
      // A declared error is a result: remember it under the key.
      return { reply: this.store.commit({ states: [], idempotency: record(outcome) }).then(() => Promise.reject(e)) };
    }
    const durable = this.commitDrafts(
      [{ spec, actorId, cell, base, draft }],
      record({ kind: "response", bytes: result.bytes }),
      effects.scheduled,
      effects.schedules,
    );
    return { reply: durable.then(() => result.value) };
  }

  /** The newest state writers build on; reloaded after a failed commit. */
  latestOf(spec: StateSpec, actorId: string, cell: ActorCell): ActorCell["latest"] & {} | null {
    if (cell.latest === undefined || cell.latest?.lineage.broken) {
      const loaded = this.#loadFromStore(spec, actorId);
      if (cell.durable === undefined) cell.durable = loaded;
      cell.latest = loaded && { ...loaded, lineage: { broken: false } };
    }
    return cell.latest;
  }

  cellOf(spec: StateSpec, actorId: string): ActorCell {
    return this.#cache.cell(spec.typeName, actorId);
  }

  /**
   * Issues one atomic commit of new versions of the given actors (plus
   * idempotency records and tasks) and publishes them to later writers at
   * once; resolves when durable, when readers and watchers see them.
   */
  commitDrafts(
    drafts: ReadonlyArray<{ spec: StateSpec; actorId: string; cell: ActorCell; base: ActorCell["latest"] & {} | null; draft: Message }>,
    idempotency: CommitBatch["idempotency"],
    scheduled: readonly TaskRecord[],
    schedules: readonly ScheduleRecord[] = [],
  ): Promise<void> {
    const published = drafts.map(({ spec, actorId, cell, base, draft }) => {
      const snapshot: Snapshot = { version: (base?.version ?? 0) + 1, state: draft };
      const lineage = base?.lineage ?? { broken: false };
      cell.latest = { ...snapshot, lineage };
      const bytes = toBinary(spec.state, draft);
      return { spec, actorId, cell, snapshot, lineage, write: { stateType: spec.typeName, actorId, baseVersion: base?.version ?? 0, state: { version: snapshot.version, bytes } } };
    });
    const batch: CommitBatch = { states: published.map((p) => p.write), idempotency, tasks: scheduled, schedules, events: spawnedEvents(scheduled) };
    return this.store.commit(batch).then(
      () => {
        for (const { spec, actorId, cell, snapshot } of published) {
          if (!cell.durable || cell.durable.version < snapshot.version) cell.durable = snapshot;
          publishCommit(spec.typeName, actorId, snapshot.version, snapshot.state);
          this.watchers.committed(Watchers.key(spec.typeName, actorId), snapshot.version);
        }
        for (const task of scheduled) this.tasks.arm(task);
        for (const schedule of schedules) this.schedules.arm(schedule);
      },
      (err: unknown) => {
        for (const p of published) p.lineage.broken = true;
        if (err instanceof StoreUnavailable) throw err;
        // Only a refused commit breaks a lineage: this one built on it.
        if (err instanceof CommitConflictError) throw new StoreUnavailable(`an earlier write it built on was refused (${this.health.fault?.message ?? "store fault"})`, err);
        throw internal(`commit failed, nothing was written: ${String(err)}`);
      },
    );
  }

  #loadFromStore(spec: StateSpec, actorId: string): Snapshot | null {
    const stored = this.store.getState(spec.typeName, actorId);
    return stored ? { version: stored.version, state: fromBinary(spec.state, stored.bytes) } : null;
  }

  // ---- tasks ------------------------------------------------------------

  /**
   * Durably creates a task for a workflow (or writer) call; returns its id.
   * The id comes from the idempotency key, or the caller, or is fresh; a
   * second spawn of the same call under the same id is a replay.
   */
  async spawn(call: Call, runAt: number | undefined, proposedId: string | undefined, caller: Caller): Promise<string> {
    const bound = this.validate(call);
    if (!caller.internal) await this.#authorize(bound, call, caller);
    if (call.method.kind !== "workflow" && call.method.kind !== "writer") {
      throw invalidArgument(`${call.method.name} is a ${call.method.kind}; only workflows and writers run as tasks`);
    }
    const key = call.idempotencyKey;
    // With a key, the id is the key's: whatever the caller proposed is moot.
    if (key === undefined && proposedId !== undefined) checkProposedTaskId(proposedId);
    if (call.method.kind === "workflow" && !call.spec.defaultConstructible) {
      this.readState(call.spec, call.actorId); // NOT_FOUND before anything is stored
    }
    const task = newTaskRecord(call, runAt, this.clock.now(), key !== undefined ? taskIdForKey(key) : proposedId);
    const existing = this.store.getTask(task.taskId);
    if (existing) {
      const same = existing.stateType === task.stateType && existing.actorId === task.actorId &&
        existing.method === task.method && Buffer.compare(existing.request, task.request) === 0;
      if (!same) throw failedPrecondition(`task id ${JSON.stringify(task.taskId)} is taken by another call`);
      return existing.taskId;
    }
    const commit = async (keyed?: { key: string; identity: CallIdentity }) => {
      const idempotency = keyed
        ? [{ key: keyed.key, record: { ...keyed.identity, outcome: { kind: "task", taskId: task.taskId } as const } }]
        : [];
      await this.store.commit({ states: [], idempotency, tasks: [task], events: spawnedEvents([task]) });
      this.tasks.arm(task);
      return task.taskId;
    };
    if (key === undefined) return commit();
    const identity: CallIdentity = {
      stateType: call.spec.typeName,
      actorId: call.actorId,
      method: call.method.name,
      requestHash: hashRequest(task.request),
    };
    return this.#once(
      key,
      identity,
      (outcome) => {
        if (outcome.kind !== "task") throw failedPrecondition(`idempotency key ${JSON.stringify(key)} was not used to start a task`);
        return outcome.taskId;
      },
      () => commit({ key, identity }),
    );
  }

  /** A task for a writer or transaction to include in its commit. */
  scheduledTask(call: Call, runAt: number | undefined): TaskRecord {
    this.validate(call);
    return newTaskRecord(call, runAt, this.clock.now());
  }

  /** A cron schedule for a writer or transaction to include in its commit. */
  cronSchedule(call: Call, timing: CronTiming): { scheduleId: string; record?: ScheduleRecord } {
    this.validate(call);
    return defineSchedule(this, call, timing);
  }

  /** Waits for a task to end; its response, or its declared error thrown. */
  async waitTask(taskId: string, method: MethodSpec, signal?: AbortSignal): Promise<Message> {
    const task = await this.tasks.waitFinal(taskId, signal);
    return this.taskOutcome(task, method);
  }

  taskOutcome(task: TaskRecord, method: MethodSpec): Message {
    const outcome = task.outcome;
    if (task.status === "completed" && outcome?.kind === "response") return fromBinary(method.desc.output, outcome.bytes);
    if (task.status === "aborted" && outcome?.kind === "aborted") throw this.#abortedFrom(outcome, method.errors, method);
    if (task.status === "cancelled") throw new ConnectError(`task ${task.taskId} was cancelled`, Code.Canceled);
    throw internal(`task ${task.taskId} ${task.status}: ${task.lastError ?? "no result"}`);
  }

  // ---- handlers ---------------------------------------------------------

  async runHandler(bound: Bound, call: Call, ctx: unknown, state: Message): Promise<Message> {
    const result = await invokeHandler(bound, call.method, [ctx, state, call.request]);
    return create(call.method.desc.output, (result ?? {}) as Record<string, unknown>);
  }

  async start(): Promise<void> {
    this.tasks.recover();
    this.schedules.recover();
  }

  async stop(): Promise<void> {
    this.health.stop();
    await this.schedules.stop();
    await this.tasks.stop();
  }
}

/** The servicer's implementation of a method. */
export function handlerOf(bound: Bound, method: MethodSpec): (...args: unknown[]) => Promise<unknown> {
  const fn = (bound.servicer as unknown as Record<string, Handler | undefined>)[method.name];
  if (typeof fn !== "function") {
    throw unimplemented(`${bound.servicer.constructor.name} does not implement ${method.name}`);
  }
  return (...args) => fn.apply(bound.servicer, args);
}

/** A task id a caller chose: well formed, and not one the server derives. */
function checkProposedTaskId(id: string): void {
  if (!isValidTaskId(id)) throw invalidArgument(`task id ${JSON.stringify(id)} is not 1-128 letters, digits, '-' or '_'`);
  if (isReservedTaskId(id)) {
    throw invalidArgument(
      `task id ${JSON.stringify(id)} has a reserved form (k-…: keyed spawns; …-c…: cron runs); ` +
        "send an idempotency key instead, or let the server choose",
    );
  }
}

/** Calls a servicer method and classifies what it throws (DESIGN.md §3). */
async function invokeHandler(bound: Bound, method: MethodSpec, args: unknown[]): Promise<unknown> {
  const fn = handlerOf(bound, method);
  try {
    return await fn(...args);
  } catch (e) {
    throw classify(e, bound.spec, method);
  }
}

function classify(e: unknown, spec: StateSpec, method: MethodSpec): Error {
  const where = `${spec.service.typeName}.${method.desc.name}`;
  if (e instanceof Aborted) {
    const declared = method.errors.some((s) => s.typeName === e.error.$typeName);
    if (!declared) return internal(`${where} aborted with undeclared error ${e.error.$typeName}`);
    const Typed = method.aborted;
    const isTyped = !Typed || e instanceof Typed;
    return isTyped ? e : new Typed((e as Aborted).error as never, (e as Aborted).message);
  }
  if (e instanceof ConnectError || e instanceof LockConflict) return e;
  console.error(`cairn: ${where} threw`, e);
  // The cause lets a task that made this call see a misuse as fatal.
  return new ConnectError(`${where} failed: ${e instanceof Error ? e.message : String(e)}`, Code.Internal, undefined, undefined, e);
}
