import { clone, create, type Message } from "@bufbuild/protobuf";
import type { IdempotencyRecord, StoredOutcome } from "../store/store.js";
import type { ActorCell } from "./actor-cache.js";
import { LockConflict, type LockOwner } from "./actor-lock.js";
import { CallContext, contextFor, MAY_CALL, refuse, toCall, type Caller } from "./context-impl.js";
import type { TransactionContext } from "./context.js";
import { alreadyExists, ContextMisuse } from "../api/errors.js";
import type { Invocation, Invoker, TaskTiming } from "../api/invocation.js";
import type { Call, Runtime, WriteEffects } from "./runtime.js";
import type { MethodSpec, StateSpec } from "../api/spec.js";
import { addCronSchedule, isCronTiming } from "./tasks/schedules.js";
import { toMillis } from "./tasks/task-record.js";
import { Watchers } from "./watchers.js";

type Latest = NonNullable<ActorCell["latest"]>;

/** One actor a transaction holds: its lock, its base version and its draft. */
interface Participant {
  readonly spec: StateSpec;
  readonly actorId: string;
  readonly cell: ActorCell;
  readonly base: Latest | null;
  draft: Message;
  exists: boolean;
  dirty: boolean;
}

let ages = 0;

/** A fresh age for a new transaction; kept across its retries. */
export function nextAge(): number {
  return ages++;
}

/**
 * The state of one attempt of a transaction: every actor it touched, locked
 * until it commits (strict two-phase locking, so it is serializable), with
 * its own drafts. Nothing is visible to anyone else before `commit`.
 */
export class Transaction {
  readonly #participants = new Map<string, Participant>();
  readonly effects: WriteEffects = { scheduled: [] };
  readonly owner: LockOwner;

  constructor(
    private readonly runtime: Runtime,
    age: number,
  ) {
    this.owner = { age };
  }

  /** Locks the actor for this transaction (wait-die) and returns its draft. */
  async participant(spec: StateSpec, actorId: string): Promise<Participant> {
    const key = Watchers.key(spec.typeName, actorId);
    const known = this.#participants.get(key);
    if (known) return known;
    const cell = this.runtime.cellOf(spec, actorId);
    cell.busy++;
    try {
      await cell.lock.acquire(this.owner);
    } catch (e) {
      cell.busy--;
      throw e;
    }
    const base = this.runtime.latestOf(spec, actorId, cell);
    const p: Participant = {
      spec,
      actorId,
      cell,
      base,
      draft: base ? clone(spec.state, base.state) : create(spec.state),
      exists: base !== null,
      dirty: false,
    };
    this.#participants.set(key, p);
    return p;
  }

  /** Undo for a nested transaction: restores every draft as it is now. */
  savepoint(): () => void {
    const saved = [...this.#participants.values()].map((p) => ({
      p,
      draft: clone(p.spec.state, p.draft),
      exists: p.exists,
      dirty: p.dirty,
    }));
    const scheduled = this.effects.scheduled.length;
    const schedules = this.effects.schedules?.length ?? 0;
    // Restores write into the same draft objects: handlers up the call
    // stack hold them as their `state` and keep using them.
    return () => {
      const known = new Set(saved.map((s) => s.p));
      for (const s of saved) {
        overwrite(s.p.draft, s.draft);
        s.p.exists = s.exists;
        s.p.dirty = s.dirty;
      }
      for (const p of this.#participants.values()) {
        if (known.has(p)) continue;
        // Locked since the savepoint: keep the lock (2PL), drop the changes.
        overwrite(p.draft, p.base ? clone(p.spec.state, p.base.state) : create(p.spec.state));
        p.exists = p.base !== null;
        p.dirty = false;
      }
      this.effects.scheduled.length = scheduled;
      if (this.effects.schedules) this.effects.schedules.length = schedules;
    };
  }

  /** Issues the one atomic commit, releases the locks, resolves when durable. */
  commit(idempotency: Array<{ key: string; record: IdempotencyRecord }>): Promise<void> {
    const all = [...this.#participants.values()];
    const drafts = all.filter((p) => p.dirty);
    const durable = this.runtime.commitDrafts(drafts, idempotency, this.effects.scheduled, this.effects.schedules);
    for (const p of all) p.cell.lock.release();
    return durable.finally(() => {
      for (const p of all) p.cell.busy--;
    });
  }

  abort(): void {
    for (const p of this.#participants.values()) {
      p.cell.lock.release();
      p.cell.busy--;
    }
    this.#participants.clear();
  }
}

/** Makes `target` equal to `source`, keeping its identity. */
function overwrite(target: Message, source: Message): void {
  for (const key of Object.keys(target)) delete (target as unknown as Record<string, unknown>)[key];
  Object.assign(target, source);
}

/**
 * Runs a method inside `txn` on its participant's draft. A call that throws
 * leaves nothing behind (DESIGN.md §3), even when its caller catches the
 * error and commits: every call runs under a savepoint.
 */
export async function runInTransaction(
  runtime: Runtime,
  txn: Transaction,
  call: Call,
  caller: Caller,
): Promise<Message> {
  const bound = runtime.validate(call);
  const p = await txn.participant(call.spec, call.actorId);
  const { method } = call;
  if (!p.exists && !method.isConstructor && !call.spec.defaultConstructible) runtime.absent(call.spec, call.actorId);
  if (p.exists && method.isConstructor) {
    throw alreadyExists(`${call.spec.typeName} ${JSON.stringify(call.actorId)} already exists`);
  }
  if (method.kind === "reader") {
    return runtime.runHandler(bound, call, contextFor(runtime, "reader", call, caller), p.draft);
  }
  const restore = txn.savepoint();
  const ctx =
    method.kind === "writer"
      ? contextFor(runtime, "writer", call, caller, txn.effects)
      : new TransactionContextImpl(runtime, txn, call, caller);
  try {
    const response = await runtime.runHandler(bound, call, ctx, p.draft);
    p.exists = p.dirty = true;
    return response;
  } catch (e) {
    restore();
    throw e;
  }
}

/** The context of a transaction handler: calls join the same transaction. */
export class TransactionContextImpl extends CallContext implements TransactionContext, Invoker {
  readonly kind = "transaction" as const;

  constructor(
    private readonly runtime: Runtime,
    private readonly txn: Transaction,
    call: Call,
    caller: Caller,
  ) {
    super(call, caller);
  }

  invoke(inv: Invocation): Promise<Message> {
    if (!MAY_CALL.transaction.includes(inv.method.kind)) {
      return Promise.reject(refuse(`${this.stateType}.${this.method}`, "transaction", inv));
    }
    return runInTransaction(this.runtime, this.txn, toCall(inv), { kind: "transaction", internal: true });
  }

  spawn(inv: Invocation): { taskId: string; started: Promise<void> } {
    throw new ContextMisuse(`a transaction schedules ${inv.method.name} with .schedule(), which commits with it`);
  }

  schedule(inv: Invocation, timing: TaskTiming): string {
    if (isCronTiming(timing)) return addCronSchedule(this.runtime, this.txn.effects, toCall(inv), timing);
    const task = this.runtime.scheduledTask(toCall(inv), toMillis(timing.when));
    this.txn.effects.scheduled.push(task);
    return task.taskId;
  }

  wait(_taskId: string, _method: MethodSpec): Promise<Message> {
    return Promise.reject(new ContextMisuse("a transaction may not wait for tasks: it would hold its actors"));
  }

  control(taskId: string): Promise<void> {
    return Promise.reject(new ContextMisuse(`a transaction may not control task ${taskId}: that does not commit with it; use a workflow`));
  }

  watch(inv: Invocation): AsyncIterable<Message> {
    throw new ContextMisuse(`a transaction may not watch ${inv.method.name}: it would hold its actors`);
  }
}

/** Outcome records for a transaction's idempotency key. */
export function outcomeRecord(
  key: { key: string; identity: Omit<IdempotencyRecord, "outcome"> } | undefined,
  outcome: StoredOutcome,
): Array<{ key: string; record: IdempotencyRecord }> {
  return key ? [{ key: key.key, record: { ...key.identity, outcome } }] : [];
}

export { LockConflict };
