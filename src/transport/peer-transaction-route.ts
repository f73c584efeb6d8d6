import { toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { PeerAnswerBatchSchema, PeerCallBatchSchema } from "../../generated/cairn/v1/peer_batch_pb.js";
import { PeerAnswerSchema, PeerCallSchema, type PeerCall } from "../../generated/cairn/v1/peer_pb.js";
import { CallError, invalidArgument } from "../api/errors.js";
import type { Call, Caller } from "../runtime/call.js";
import type { ParticipantNode } from "../runtime/participant-node.js";
import type { TransactionRef } from "../runtime/transaction-side.js";
import { answerBytes } from "./peer-answer-bytes.js";
import { initToBinary } from "./init-to-binary.js";
import { binaryDecoder } from "./binary-to-message.js";

/** A transaction call's answer, written by initToBinary (not built as a message, then encoded). */
export type PeerAnswerInit = MessageInitShape<typeof PeerAnswerSchema>;

/** The peer calls of transactions another node coordinates (peer-transactions.ts sends them). */
export type TransactionOp = "txn-run" | "txn-prepare" | "txn-finish" | "txn-decision" | "txn-peek";
const OPS = new Set<string>(["txn-run", "txn-prepare", "txn-finish", "txn-decision", "txn-peek"]);

export function isTransactionOp(op: string): op is TransactionOp {
  return OPS.has(op);
}

/** The op of several transaction calls in one exchange (proto/cairn/v1/peer_batch.proto; peer-batcher.ts sends it). */
export const TXN_BATCH = "txn-batch";
/** The ops a batch may carry: each ends in a durable commit, so their answers are ready together (a run may wait for locks). */
export const BATCHED_OPS: ReadonlySet<string> = new Set<TransactionOp>(["txn-prepare", "txn-finish"]);
/** The most calls one batch may carry. */
export const MAX_BATCH_CALLS = 256;

/**
 * Answers a batch: each call as if it came alone, all started in the same
 * turn (so their commits go in one LMDB commit), the answers in the calls'
 * order. A batch that does not decode, is too long or names an op it may
 * not carry is refused whole, before any of its calls runs.
 */
export async function answerBatch(participants: ParticipantNode, body: Uint8Array): Promise<Uint8Array> {
  let calls: Array<{ op: TransactionOp; m: PeerCall }>;
  try {
    const batch = binaryDecoder(PeerCallBatchSchema)(body);
    if (batch.calls.length > MAX_BATCH_CALLS) throw invalidArgument(`a peer call batch carries at most ${MAX_BATCH_CALLS} calls, not ${batch.calls.length}`);
    calls = batch.calls.map((c) => {
      if (!BATCHED_OPS.has(c.op)) throw invalidArgument(`a peer call batch cannot carry ${JSON.stringify(c.op)}`);
      return { op: c.op as TransactionOp, m: binaryDecoder(PeerCallSchema)(c.call) };
    });
  } catch (e) {
    throw e instanceof CallError ? e : invalidArgument(`the peer call batch does not decode: ${e instanceof Error ? e.message : String(e)}`);
  }
  const noCall = (): never => {
    throw invalidArgument("a batched peer call runs no method");
  };
  const answers = await Promise.all(
    calls.map(({ op, m }) =>
      answerBytes(
        answerTransaction(participants, op, m, noCall).then((a) => initToBinary(PeerAnswerSchema, a)),
        () => undefined,
      ),
    ),
  );
  return initToBinary(PeerAnswerBatchSchema, { answers: answers.map(({ status, body }) => ({ status, body })) });
}

/**
 * The participant node's side (DESIGN.md §9): runs, prepares, commits or
 * aborts a transaction another node coordinates, or answers the decision
 * of one this node coordinates (txn-decision, a participant's question) or
 * peeks at it (txn-peek, a reader's). `callOf` decodes a txn-run's call.
 */
export async function answerTransaction(participants: ParticipantNode, op: TransactionOp, m: PeerCall, callOf: () => [Call, Caller]): Promise<PeerAnswerInit> {
  switch (op) {
    case "txn-run": {
      const [call, caller] = callOf();
      const { response, prepared } = await participants.run(refOf(m), m.txnSeq, m.txnUndoTo, call, caller, m.txnPrepare);
      return { response: toBinary(call.method.desc.output, response), prepared: [...prepared] };
    }
    case "txn-prepare":
      return { prepared: await participants.prepare(refOf(m), m.txnUndoTo) };
    case "txn-finish":
      await participants.finish(idOf(m), Number(m.txnEpoch), m.txnCommit, m.txnPartitions);
      return {};
    case "txn-decision":
      return { committed: await participants.decisionOf(m.txnCoordinator, idOf(m)) };
    case "txn-peek":
      return { committed: await participants.peekDecision(m.txnCoordinator, idOf(m)) };
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
