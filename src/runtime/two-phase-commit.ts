import type { IdempotencyRecord } from "../store/store.js";
import type { WriteEffects } from "./call.js";
import type { TransactionAge } from "./transaction-age.js";
import { release, type Participant } from "./transaction-participant.js";
import type { TransactionRef, TransactionSide } from "./transaction-side.js";

/**
 * Commits a transaction that changed actors of other partitions (DESIGN.md
 * §9), as their coordinator, presumed abort:
 *
 * 1. every other partition with changed actors prepares them (a durable
 *    prepared record each; a refusal aborts all);
 * 2. the decision: one commit of the home partition's actors, the
 *    idempotency record, the scheduled tasks and the decision record. Once
 *    durable the transaction is committed, whatever crashes next;
 * 3. the participants apply and remove their prepared records, the locks
 *    are released, the decision is forgotten.
 *
 * Resolves once the participants applied, so a caller that got its answer
 * reads the transaction's effects on every partition.
 */
export async function commitAcross(
  home: TransactionSide,
  age: TransactionAge,
  effects: WriteEffects,
  all: readonly Participant[],
  idempotency: Array<{ key: string; record: IdempotencyRecord }>,
): Promise<void> {
  const bySide = new Map<TransactionSide, Participant[]>();
  for (const p of all) {
    if (!p.dirty || p.side === home) continue;
    const list = bySide.get(p.side) ?? [];
    list.push(p);
    bySide.set(p.side, list);
  }
  const others = [...bySide.keys()];
  const ref: TransactionRef = { id: home.coordinator.begin(), coordinator: home.partition, epoch: home.coordinator.epoch, age };
  const abortAll = () => Promise.all(others.map((side) => side.participant.abort(ref.id, ref.epoch).catch(() => {})));
  try {
    // Every vote is in before an abort is sent: none is still being written then.
    const votes = await Promise.allSettled(others.map((side) => side.participant.prepare(ref, bySide.get(side)!)));
    const no = votes.find((v) => v.status === "rejected");
    if (no) {
      await abortAll();
      throw no.reason;
    }
    home.testPoint("after-prepare");
    const mine = all.filter((p) => p.dirty && p.side === home);
    const decided = [{ txnId: ref.id, participants: others.map((side) => side.partition) }];
    try {
      await home.coordinator.decide(ref.id, () =>
        home.states.commitDrafts(mine, idempotency, effects.scheduled, effects.schedules, { decided }),
      );
    } catch (e) {
      await abortAll();
      throw e;
    }
    home.testPoint("after-decision");
    await Promise.all(others.map((side) => side.participant.commit(ref.id, ref.epoch)));
    home.coordinator.forget(ref.id);
  } finally {
    home.coordinator.end(ref.id);
    release(all);
  }
}
