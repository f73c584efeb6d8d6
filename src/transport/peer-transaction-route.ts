import { create, toBinary } from "@bufbuild/protobuf";
import { PeerAnswerSchema, type PeerAnswer, type PeerCall } from "../../generated/cairn/v1/peer_pb.js";
import { invalidArgument } from "../api/errors.js";
import type { Call, Caller } from "../runtime/call.js";
import type { ParticipantNode } from "../runtime/participant-node.js";
import type { TransactionRef } from "../runtime/transaction-side.js";

/** The peer calls of transactions another node coordinates (peer-transactions.ts sends them). */
export type TransactionOp = "txn-run" | "txn-prepare" | "txn-finish" | "txn-decision";
const OPS = new Set<string>(["txn-run", "txn-prepare", "txn-finish", "txn-decision"]);

export function isTransactionOp(op: string): op is TransactionOp {
  return OPS.has(op);
}

/**
 * The participant node's side (DESIGN.md §9): runs, prepares, commits or
 * aborts a transaction another node coordinates, or answers the decision
 * of one this node coordinates. `callOf` decodes a txn-run's call.
 */
export async function answerTransaction(participants: ParticipantNode, op: TransactionOp, m: PeerCall, callOf: () => [Call, Caller]): Promise<PeerAnswer> {
  switch (op) {
    case "txn-run": {
      const [call, caller] = callOf();
      const response = await participants.run(refOf(m), m.txnSeq, m.txnUndoTo, call, caller);
      return create(PeerAnswerSchema, { response: toBinary(call.method.desc.output, response) });
    }
    case "txn-prepare":
      return create(PeerAnswerSchema, { prepared: await participants.prepare(refOf(m), m.txnUndoTo) });
    case "txn-finish":
      await participants.finish(idOf(m), Number(m.txnEpoch), m.txnCommit, m.txnPartitions);
      return create(PeerAnswerSchema, {});
    case "txn-decision":
      return create(PeerAnswerSchema, { committed: await participants.decisionOf(m.txnCoordinator, idOf(m)) });
  }
}

function idOf(m: PeerCall): string {
  if (m.txnId === "") throw invalidArgument("a transaction peer call names its transaction");
  return m.txnId;
}

function refOf(m: PeerCall): TransactionRef {
  if (!m.txnAge) throw invalidArgument("a transaction peer call carries its transaction's age");
  const { time, origin, seq } = m.txnAge;
  return { id: idOf(m), coordinator: m.txnCoordinator, epoch: Number(m.txnEpoch), age: { time, origin, seq } };
}
