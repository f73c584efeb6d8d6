import { clone, create, fromBinary, toBinary, type Message } from "@bufbuild/protobuf";
import type { IdempotencyRecord } from "../store/store.js";
import { LockConflict, type LockOwner } from "./actor-lock.js";
import type { Bound, Call, Caller, WriteEffects } from "./call.js";
import { CallContext, contextFor, scheduleInto, toCall } from "./context-impl.js";
import type { TransactionContext } from "./context.js";
import type { Engine } from "./engine.js";
import { alreadyExists } from "../api/errors.js";
import { declaredOutcome } from "./declared-outcome.js";
import { runHandler } from "./handler.js";
import { hashRequest, type CallIdentity } from "./idempotency.js";
import { outcomeRecord, type IdempotencyTable, type Keyed } from "./idempotency-table.js";
import type { Invocation, TaskTiming } from "../api/invocation.js";
import type { StateSpec } from "../api/spec.js";
import { replayed } from "./task-outcome.js";
import type { TransactionAge } from "./transaction-age.js";
import type { TransactionSide } from "./transaction-side.js";
import { commitAcross } from "./two-phase-commit.js";
import { release, type Participant } from "./transaction-participant.js";
import { Watchers } from "./watchers.js";

/**
 * The state of one attempt of a transaction: every actor it touched, locked
 * until it commits (strict two-phase locking, so it is serializable), with
 * its own drafts. Nothing is visible to anyone else before `commit`. Actors
 * of other partitions are locked in their partition's cache; a commit that
 * changed any of them goes through two-phase commit (two-phase-commit.ts).
 */
export class Transaction {
  readonly #participants = new Map<string, Participant>();
  readonly effects: WriteEffects = { scheduled: [] };
  readonly owner: LockOwner;

  constructor(
    /** The coordinator: the partition of the actor the transaction method runs on. */
    readonly home: TransactionSide,
    age: TransactionAge,
  ) {
    this.owner = { age };
  }

  /** Locks the actor for this transaction (wait-die) and returns its draft. */
  async participant(spec: StateSpec, actorId: string, side: TransactionSide): Promise<Participant> {
    const key = Watchers.key(spec.typeName, actorId);
    const known = this.#participants.get(key);
    if (known) return known;
    const cell = side.states.cellOf(spec, actorId);
    cell.busy++;
    try {
      await cell.lock.acquire(this.owner);
    } catch (e) {
      cell.busy--;
      throw e;
    }
    const base = side.states.latestOf(spec, actorId, cell);
    const p: Participant = {
      side,
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

  /**
   * Issues the commit, releases the locks, resolves when durable: one
   * atomic commit when every changed actor is on the home partition, else
   * two-phase commit (the locks are kept until the participants applied).
   */
  commit(idempotency: Array<{ key: string; record: IdempotencyRecord }>): Promise<void> {
    const all = this.#take();
    const drafts = all.filter((p) => p.dirty);
    if (drafts.some((p) => p.side !== this.home)) return commitAcross(this.home, this.owner.age, this.effects, all, idempotency);
    const durable = this.home.states.commitDrafts(drafts, idempotency, this.effects.scheduled, this.effects.schedules);
    for (const p of all) p.cell.lock.release();
    return durable.finally(() => {
      for (const p of all) p.cell.busy--;
    });
  }

  abort(): void {
    release(this.#take());
  }

  /** The participants, handed over once: after a commit or an abort the transaction holds nothing. */
  #take(): Participant[] {
    const all = [...this.#participants.values()];
    this.#participants.clear();
    return all;
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
 * error and commits: every nested call runs under a savepoint. The
 * transaction's own call (`nested` false) needs none: when it throws, the
 * whole attempt is dropped (and a savepoint clones every draft).
 */
export async function runInTransaction(
  engine: Engine,
  txn: Transaction,
  call: Call,
  caller: Caller,
  nested = true,
): Promise<Message> {
  const bound = engine.validate(call);
  const partition = engine.partitionOf(call.spec.typeName, call.actorId);
  const side = partition === txn.home.partition ? txn.home : engine.transactionSide(partition);
  const p = await txn.participant(call.spec, call.actorId, side);
  const { method } = call;
  if (!p.exists && !method.isConstructor && !call.spec.defaultConstructible) engine.states.absent(call.spec, call.actorId);
  if (p.exists && method.isConstructor) {
    throw alreadyExists(`${call.spec.typeName} ${JSON.stringify(call.actorId)} already exists`);
  }
  if (method.kind === "reader") {
    return runHandler(bound, call, contextFor(engine, "reader", call, caller), p.draft);
  }
  const restore = nested ? txn.savepoint() : undefined;
  const ctx =
    method.kind === "writer"
      ? contextFor(engine, "writer", call, caller, txn.effects)
      : new TransactionContextImpl(engine, txn, call, caller);
  try {
    const response = await runHandler(bound, call, ctx, p.draft);
    p.exists = p.dirty = true;
    return response;
  } catch (e) {
    restore?.();
    throw e;
  }
}

/** The context of a transaction handler: its calls join the same transaction; it may schedule into its commit. */
export class TransactionContextImpl extends CallContext implements TransactionContext {
  readonly kind = "transaction" as const;

  constructor(
    private readonly engine: Engine,
    private readonly txn: Transaction,
    call: Call,
    caller: Caller,
  ) {
    super(call, caller);
  }

  protected call(inv: Invocation): Promise<Message> {
    return runInTransaction(this.engine, this.txn, toCall(inv), this.caller);
  }

  override schedule(inv: Invocation, timing: TaskTiming): string {
    return scheduleInto(this.engine, this.txn.effects, inv, timing);
  }
}

/**
 * Runs a transaction call, once per idempotency key if it has one,
 * retrying it from the top when wait-die makes it give way to an older one
 * (nothing of a failed attempt is kept).
 */
export function transact(engine: Engine, table: IdempotencyTable, bound: Bound, call: Call, caller: Caller): Promise<Message> {
  const key = call.idempotencyKey;
  if (key === undefined) return transactOnce(engine, call, caller, undefined);
  const identity: CallIdentity = {
    stateType: bound.spec.typeName,
    actorId: call.actorId,
    method: call.method.name,
    requestHash: hashRequest(toBinary(call.method.desc.input, call.request)),
  };
  const decode = (bytes: Uint8Array) => fromBinary(call.method.desc.output, bytes);
  return table.once(
    key,
    identity,
    (outcome) => replayed(outcome, decode, call.method.errors, call.method),
    (keyed) => transactOnce(engine, call, caller, keyed),
    caller.owner,
  );
}

async function transactOnce(engine: Engine, call: Call, caller: Caller, keyed: Keyed | undefined): Promise<Message> {
  const home = engine.transactionSide(engine.partition);
  const age = home.ages.next();
  for (let attempt = 1; ; attempt++) {
    const txn = new Transaction(home, age);
    let committed: Promise<void> | undefined;
    try {
      const response = await runInTransaction(engine, txn, call, caller, false);
      // The response's bytes are stored only under a key.
      committed = txn.commit(keyed ? outcomeRecord(keyed, { kind: "response", bytes: toBinary(call.method.desc.output, response) }) : []);
      await committed;
      return response;
    } catch (e) {
      // A two-phase commit that a participant made abort before the decision is retried too.
      if (committed && !(e instanceof LockConflict)) throw e;
      txn.abort();
      if (e instanceof LockConflict && attempt < 10_000) {
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(20, attempt)));
        continue;
      }
      const outcome = declaredOutcome(e, call.method.errors);
      if (keyed && outcome) await engine.store.commit({ states: [], idempotency: outcomeRecord(keyed, outcome) });
      throw e;
    }
  }
}
