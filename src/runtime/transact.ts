import { fromBinary, toBinary, type Message } from "@bufbuild/protobuf";
import { LockConflict, lockHandOver } from "./actor-lock.js";
import type { Bound, Call, Caller } from "./call.js";
import type { Engine } from "./engine.js";
import { declaredOutcome } from "./declared-outcome.js";
import { hashRequest, type CallIdentity } from "./idempotency.js";
import { outcomeRecord, type IdempotencyTable, type Keyed } from "./idempotency-table.js";
import { replayed } from "./task-outcome.js";
import { hostedSide, runInTransaction, Transaction } from "./transaction.js";

// Running a transaction method: its attempts, each a Transaction
// (transaction.ts), retried from the top when wait-die makes it give way.

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

/**
 * Transaction methods that called a node again after it prepared with their
 * call there: their calls no longer ask other nodes to prepare with the call
 * (each such call would cost a retry). Learned once per method and process.
 */
const callsAgain = new WeakSet<Call["method"]>();

async function transactOnce(engine: Engine, call: Call, caller: Caller, keyed: Keyed | undefined): Promise<Message> {
  const home = hostedSide(engine, engine.partition);
  const age = home.ages.next();
  for (let attempt = 1; ; attempt++) {
    const txn = new Transaction(home, age, true, !callsAgain.has(call.method));
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
      if (txn.preparedTooSoon) callsAgain.add(call.method);
      await txn.abort();
      if (e instanceof LockConflict && attempt < 10_000) {
        await retryAfter(e, attempt);
        continue;
      }
      const outcome = declaredOutcome(e, call.method.errors);
      if (keyed && outcome) await engine.store.commit({ states: [], idempotency: outcomeRecord(keyed, outcome) });
      throw e;
    }
  }
}

/**
 * Waits before a transaction's retry: until the lock it lost is released
 * (then it is likely to get it), else a short random backoff.
 */
function retryAfter(conflict: LockConflict, attempt: number): Promise<void> {
  return lockHandOver(conflict) ?? new Promise<void>((r) => setTimeout(r, Math.random() * Math.min(20, attempt)));
}
