import type { IdempotencyRecord } from "../store/store.js";
import { LockConflict } from "./actor-lock.js";
import type { WriteEffects } from "./call.js";
import { release, releaseAtIssue, type Participant } from "./transaction-participant.js";
import type { RemoteTransactions, TransactionRef, TransactionSide } from "./transaction-side.js";

/** Another node a transaction's calls reached: how many, what to undo there next, the call in flight. */
export interface RemoteReach {
  readonly node: RemoteTransactions;
  calls: number;
  undoTo: number | undefined;
  queue: Promise<unknown>;
  /** Its last call lost a wait-die there and that node let go of the transaction: nothing to abort there. */
  letGo: boolean;
  /** The partitions that node prepared with the transaction's last call there, nothing changed there since: no prepare is sent. */
  prepared: readonly number[] | undefined;
  /** That node may have prepared with a call, and something there changed after it (a later call, an undo): the transaction cannot commit, it retries. */
  spoiled: boolean;
}

/**
 * Commits a transaction that changed actors of other partitions (DESIGN.md
 * §9), as their coordinator, presumed abort:
 *
 * 1. every other partition with changed actors prepares them (a durable
 *    prepared record each; a refusal aborts all), and so does every other
 *    node the transaction's calls reached (it names the partitions that
 *    prepared, or none when it only read there), unless it prepared with
 *    the transaction's last call there and nothing changed there since;
 * 2. the decision: one commit of the home partition's actors, the
 *    idempotency record, the scheduled tasks and the decision record. Once
 *    durable the transaction is committed, whatever crashes next;
 * 3. the participants apply and remove their prepared records, the locks
 *    are released, the decision is forgotten (in the background).
 *
 * The home actors' locks go once the decision is issued, as after a
 * one-partition commit. Resolves once the decision is durable: the reply
 * does not wait for the participants. A caller that got it still reads the
 * transaction's effects on every partition: a reader of an actor still
 * prepared asks the coordinator (ActorCell.prepared), and a writer waits
 * for its lock, which goes once the actor's new version is applied.
 */
export async function commitAcross(
  home: TransactionSide,
  ref: TransactionRef,
  effects: WriteEffects,
  all: readonly Participant[],
  remotes: readonly RemoteReach[],
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
  // Locks go as soon as nothing more depends on them; `release(all)` at the end lets go of the rest.
  const held = new Set(all);
  const letGo = (ps: readonly Participant[]) => release(ps.filter((p) => held.delete(p)));
  // Read-only actors: the growing phase is over, so letting go now keeps it serializable.
  letGo(all.filter((p) => !p.dirty));
  /** The partitions each other node prepared (none until it answers). */
  const preparedThere = remotes.map(() => [] as number[]);
  const abortAll = () =>
    Promise.all([
      ...others.map((side) => side.participant.abort(ref.id, ref.epoch).catch(() => {})),
      ...remotes.map((r, i) => r.node.finish(ref.id, ref.epoch, false, preparedThere[i]!).catch(() => {})),
    ]);
  try {
    // Every vote is in before an abort is sent: none is still being written then.
    const votes = await Promise.allSettled([
      // Once prepared, a partition's record holds its actors' locks (owned): they go when it applies or drops it.
      ...others.map((side) => side.participant.prepare(ref, bySide.get(side)!).then(() => bySide.get(side)!.forEach((p) => held.delete(p)))),
      ...remotes.map(async (r, i) => {
        await r.queue;
        if (r.spoiled) throw new LockConflict(`transaction ${ref.id} changed what node ${i} prepared with its call: retried`);
        // Prepared with its last call (the bank's deposit): that node's vote is in, one exchange less.
        preparedThere[i] = r.prepared ? [...r.prepared] : await r.node.prepare(ref, r.undoTo);
      }),
    ]);
    const no = votes.find((v) => v.status === "rejected");
    if (no) {
      await abortAll();
      throw no.reason;
    }
    home.testPoint("after-prepare");
    const mine = all.filter((p) => p.dirty && p.side === home);
    const decided = [{ txnId: ref.id, participants: [...others.map((side) => side.partition), ...preparedThere.flat()] }];
    try {
      // The home actors' locks go once the decision is issued, as after a one-partition commit.
      await home.coordinator.decide(ref.id, () => {
        for (const p of mine) held.delete(p);
        return releaseAtIssue(mine, home.states.commitDrafts(mine, idempotency, effects.scheduled, effects.schedules, { decided }));
      });
    } catch (e) {
      await abortAll();
      throw e;
    }
    home.testPoint("after-decision");
    // Committed, whatever fails next: the participants apply it after the reply.
    void Promise.allSettled([
      ...others.map((side) => side.participant.commit(ref.id, ref.epoch)),
      ...remotes.map((r, i) => (preparedThere[i]!.length > 0 ? r.node.finish(ref.id, ref.epoch, true, preparedThere[i]!) : Promise.resolve())),
    ]).then((applied) => {
      // A participant that did not answer (its answer may be lost) is asked again, until it does.
      const toWhom = [...others.map((side) => [side.partition]), ...preparedThere];
      const unanswered = applied.flatMap((a, i) => (a.status === "rejected" ? toWhom[i]! : []));
      if (unanswered.length === 0) home.coordinator.forget(ref.id);
      else home.coordinator.finishDecided(ref.id, unanswered);
    });
  } finally {
    home.coordinator.end(ref.id);
    letGo(all);
  }
}

