import { create, fromBinary } from "@bufbuild/protobuf";
import { PeerTxnAgeSchema, type PeerAnswer } from "../../generated/cairn/v1/peer_pb.js";
import type { Call, Caller } from "../runtime/call.js";
import { LockConflict } from "../runtime/actor-lock.js";
import { ParticipantLetGo, type RemoteRun, type RemoteTransactions, type TransactionRef } from "../runtime/transaction-side.js";
import { PeerBatcher } from "./peer-batcher.js";
import { callInit, type PeerSender } from "./peer-sender.js";

/**
 * The coordinator's side of a transaction's calls on another node
 * (DESIGN.md §9): each operation is one peer call to that node
 * (peer-transaction-route.ts answers). A `conflict` answer is a lost
 * wait-die there, or a transaction that node let go of: LockConflict here
 * (ParticipantLetGo when that node keeps nothing of it), so the
 * transaction retries from the top as in one process. Prepares and
 * finishes ready in the same turn go to that node as one batch
 * (peer-batcher.ts).
 */
export class PeerTransactions implements RemoteTransactions {
  readonly #batcher: PeerBatcher;

  constructor(
    private readonly node: number,
    private readonly sender: PeerSender,
  ) {
    this.#batcher = new PeerBatcher(node, sender);
  }

  async run(txn: TransactionRef, seq: number, undoTo: number | undefined, call: Call, caller: Caller, prepare: boolean): Promise<RemoteRun> {
    const init = { ...callInit(call, caller), ...refInit(txn), txnSeq: seq, txnUndoTo: undoTo, txnPrepare: prepare };
    const answer = unlessConflict(await this.sender.send(this.node, "txn-run", init, call.method, call.signal));
    return { response: fromBinary(call.method.desc.output, answer.response), prepared: answer.prepared };
  }

  async prepare(txn: TransactionRef, undoTo: number | undefined): Promise<number[]> {
    return unlessConflict(await this.#batcher.send("txn-prepare", { ...refInit(txn), txnUndoTo: undoTo })).prepared;
  }

  async finish(txnId: string, epoch: number, commit: boolean, partitions: readonly number[]): Promise<void> {
    await this.#batcher.send("txn-finish", { txnId, txnEpoch: BigInt(epoch), txnCommit: commit, txnPartitions: [...partitions] });
  }

  async decisionOf(coordinator: number, txnId: string): Promise<boolean> {
    return (await this.sender.send(this.node, "txn-decision", { txnId, txnCoordinator: coordinator }, undefined, undefined)).committed;
  }

  async peekDecision(coordinator: number, txnId: string): Promise<boolean> {
    return (await this.sender.send(this.node, "txn-peek", { txnId, txnCoordinator: coordinator }, undefined, undefined)).committed;
  }
}

function refInit(txn: TransactionRef) {
  return { txnId: txn.id, txnCoordinator: txn.coordinator, txnEpoch: BigInt(txn.epoch), txnAge: create(PeerTxnAgeSchema, { ...txn.age }) };
}

function unlessConflict(answer: PeerAnswer): PeerAnswer {
  if (answer.conflict !== "") throw answer.letGo ? new ParticipantLetGo(answer.conflict) : new LockConflict(answer.conflict);
  return answer;
}
