import { create, type Message } from "@bufbuild/protobuf";
import type { IdempotencyRecord } from "../store/store.js";
import { LockConflict, type LockOwner } from "./actor-lock.js";
import { copyMessage } from "./message-copy.js";
import type { Call, Caller, WriteEffects } from "./call.js";
import { CallContext, contextFor, scheduleInto, toCall } from "./context-impl.js";
import type { TransactionContext } from "./context.js";
import type { Engine } from "./engine.js";
import { alreadyExists, failedPrecondition } from "../api/errors.js";
import { runHandler } from "./handler.js";
import type { Invocation, TaskTiming } from "../api/invocation.js";
import type { StateSpec } from "../api/spec.js";
import type { TransactionAge } from "./transaction-age.js";
import { ParticipantLetGo, type RemoteTransactions, type RemoteTransactionSide, type TransactionRef, type TransactionSide } from "./transaction-side.js";
import { commitAcross, type RemoteReach } from "./two-phase-commit.js";
import { release, releaseAtIssue, type Participant } from "./transaction-participant.js";
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
  /** The other nodes its calls reached, by node. */
  readonly #remotes = new Map<RemoteTransactions, RemoteReach>();
  /** Its first actor's join while it waits for it holding nothing (no wait-die): it takes nothing else until then. */
  #firstLock: Promise<Participant> | undefined;
  /** Actors being locked for it: a second call on one of them waits for that lock instead of queueing behind itself. */
  readonly #joining = new Map<string, Promise<Participant>>();
  #id: string | undefined;
  /** A node prepared with a call of it, and it changed something there later: its method makes more calls there (transactOnce learns). */
  preparedTooSoon = false;
  readonly effects: WriteEffects = { scheduled: [] };
  readonly owner: LockOwner;

  constructor(
    /** The coordinator: the partition of the actor the transaction method runs on (here, for a participant node's part). */
    readonly home: TransactionSide,
    age: TransactionAge,
    /** False for the part another node's transaction runs here: it reaches no further node. */
    readonly coordinating = true,
    /** Its calls on other nodes ask them to prepare with the call (no further call there is expected). */
    readonly preparesWithRuns = false,
  ) {
    this.owner = { age };
  }

  /** Its two-phase commit identity, the id taken from the coordinator at the first need. */
  get ref(): TransactionRef {
    this.#id ??= this.home.coordinator.begin();
    return { id: this.#id, coordinator: this.home.partition, epoch: this.home.coordinator.epoch, age: this.owner.age };
  }

  /** Runs a call on an actor another node hosts, there, in this transaction (one call at a time per node: it applies them in order). */
  runRemote(side: RemoteTransactionSide, call: Call, caller: Caller): Promise<Message> {
    if (!this.coordinating) {
      throw failedPrecondition(
        `${call.spec.typeName} ${JSON.stringify(call.actorId)} is hosted by another node, and this handler already runs on a transaction's participant node: ` +
          `a transaction reaches other nodes from its coordinator's node only`,
      );
    }
    const ref = this.ref;
    let r = this.#remotes.get(side.node);
    if (!r) this.#remotes.set(side.node, (r = { node: side.node, calls: 0, undoTo: undefined, queue: Promise.resolve(), letGo: false, prepared: undefined, spoiled: false }));
    const reach = r;
    const run = reach.queue.then(async () => {
      if (this.#firstLock) await this.#firstTaken(); // not while it waits for a first actor holding nothing
      // That node prepared with the last call and holds nothing unprepared: nothing more can run there.
      if (reach.prepared || reach.spoiled) throw this.#spoil(reach);
      const seq = reach.calls++;
      const undoTo = reach.undoTo;
      reach.undoTo = undefined;
      try {
        const { response, prepared } = await reach.node.run(ref, seq, undoTo, call, caller, this.preparesWithRuns);
        reach.letGo = false;
        if (prepared.length > 0) {
          // A savepoint restored meanwhile (calls not awaited in order) undid it: what was prepared is not current.
          if (reach.calls === seq + 1 && reach.undoTo === undefined) reach.prepared = prepared;
          else this.#spoil(reach);
        }
        return response;
      } catch (e) {
        reach.letGo = e instanceof ParticipantLetGo;
        // Not learned from: a failed call prepared nothing there, and one that did with its answer lost
        // refuses whatever comes next (that node's marker), so the transaction retries.
        // Undone there with the next message, whatever it did (its answer may have been lost after it ran).
        reach.calls = seq;
        reach.undoTo = Math.min(undoTo ?? seq, seq);
        throw e;
      }
    });
    reach.queue = run.catch(() => {});
    return run;
  }

  #spoil(reach: RemoteReach): LockConflict {
    reach.spoiled = this.preparedTooSoon = true;
    return new LockConflict("a call to a node that prepared this transaction with an earlier call: retried, prepared at its commit");
  }

  /** Locks the actor for this transaction (wait-die) and returns its draft; calls that reach it at once join it once. */
  async participant(spec: StateSpec, actorId: string, side: TransactionSide): Promise<Participant> {
    const key = Watchers.key(spec.typeName, actorId);
    if (this.#firstLock) await this.#firstTaken();
    const known = this.#participants.get(key) ?? this.#joining.get(key);
    if (known) return known;
    // Holding nothing yet (its first actor), a coordinating transaction waits for it: nobody waits for it, so
    // it cannot be in a deadlock. It takes nothing else meanwhile, here or on another node (#firstLock).
    // (A participant node's part holds the coordinator's actors elsewhere.)
    const first = this.coordinating && this.holdsNothing && this.#remotes.size === 0;
    const joining = this.#join(key, spec, actorId, side, first);
    this.#joining.set(key, joining);
    if (first) this.#firstLock = joining;
    try {
      return await joining;
    } finally {
      this.#joining.delete(key);
      if (this.#firstLock === joining) this.#firstLock = undefined;
    }
  }

  /** Once no first actor is being waited for (whatever became of it). */
  async #firstTaken(): Promise<void> {
    while (this.#firstLock) await this.#firstLock.then(undefined, () => undefined);
  }

  async #join(key: string, spec: StateSpec, actorId: string, side: TransactionSide, first: boolean): Promise<Participant> {
    const cell = side.states.cellOf(spec, actorId);
    cell.busy++;
    try {
      await cell.lock.acquire(this.owner, first);
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
      draft: base ? copyMessage(spec.state, base.state) : create(spec.state),
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
      draft: copyMessage(p.spec.state, p.draft),
      exists: p.exists,
      dirty: p.dirty,
    }));
    const scheduled = this.effects.scheduled.length;
    const schedules = this.effects.schedules?.length ?? 0;
    const remoteCalls = new Map([...this.#remotes.values()].map((r) => [r, r.calls]));
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
        overwrite(p.draft, p.base ? copyMessage(p.spec.state, p.base.state) : create(p.spec.state));
        p.exists = p.base !== null;
        p.dirty = false;
      }
      this.effects.scheduled.length = scheduled;
      if (this.effects.schedules) this.effects.schedules.length = schedules;
      // Calls on other nodes since the savepoint are undone there with the next message.
      for (const r of this.#remotes.values()) {
        const before = remoteCalls.get(r) ?? 0;
        if (r.calls <= before) continue;
        if (r.prepared) this.#spoil(r);
        r.calls = before;
        r.undoTo = Math.min(r.undoTo ?? before, before);
      }
    };
  }

  /**
   * Issues the commit, releases the locks, resolves when durable: one
   * atomic commit when every changed actor is on the home partition, else
   * two-phase commit (the other partitions' locks are kept until they applied).
   */
  commit(idempotency: Array<{ key: string; record: IdempotencyRecord }>): Promise<void> {
    const remotes = [...this.#remotes.values()];
    const across = remotes.length > 0 || [...this.#participants.values()].some((p) => p.dirty && p.side !== this.home);
    const ref = across ? this.ref : undefined;
    const all = this.#take();
    if (ref) return commitAcross(this.home, ref, this.effects, all, remotes, idempotency);
    const drafts = all.filter((p) => p.dirty);
    return releaseAtIssue(all, this.home.states.commitDrafts(drafts, idempotency, this.effects.scheduled, this.effects.schedules));
  }

  /** Releases its locks here; resolves once the nodes it reached let go of theirs. */
  abort(): Promise<void> {
    const id = this.#id;
    const remotes = [...this.#remotes.values()];
    release(this.#take());
    if (id === undefined) return Promise.resolve();
    this.home.coordinator.end(id);
    const epoch = this.home.coordinator.epoch;
    // A node that cannot be told lets go when its lease runs out.
    // A node that let go after its last call (a lost wait-die there) holds nothing to abort.
    return Promise.all(remotes.map((r) => r.queue.then(() => (r.letGo ? undefined : r.node.finish(id, epoch, false, []))).catch(() => {}))).then(() => {});
  }

  /** The participants, handed over once: after a commit or an abort the transaction holds nothing. */
  #take(): Participant[] {
    const all = [...this.#participants.values()];
    this.#participants.clear();
    this.#remotes.clear();
    this.#id = undefined;
    return all;
  }

  /** Whether it holds no actor. */
  get holdsNothing(): boolean {
    return this.#participants.size === 0;
  }

  /** Whether it holds actors and changed every one (none only read). */
  changedAll(): boolean {
    if (this.#participants.size === 0) return false;
    for (const p of this.#participants.values()) if (!p.dirty) return false;
    return true;
  }

  /** The part another node's transaction runs here: its participants, handed over for its prepare or abort. */
  handOver(): Participant[] {
    return this.#take();
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
  if ("node" in side) return txn.runRemote(side, call, caller);
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

/** The side of a partition hosted here; FAILED_PRECONDITION for one another node hosts. */
export function hostedSide(engine: Engine, partition: number): TransactionSide {
  const side = engine.transactionSide(partition);
  if ("node" in side) throw failedPrecondition(`partition ${partition} is not hosted by this node`);
  return side;
}
