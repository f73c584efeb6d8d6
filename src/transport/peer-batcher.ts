import type { MessageInitShape } from "@bufbuild/protobuf";
import { PeerAnswerBatchSchema, PeerCallBatchSchema, type PeerAnswerBatch } from "../../generated/cairn/v1/peer_batch_pb.js";
import { PeerCallSchema, type PeerAnswer } from "../../generated/cairn/v1/peer_pb.js";
import { Unavailable } from "../api/errors.js";
import { initToBinary } from "./init-to-binary.js";
import { binaryDecoder } from "./binary-to-message.js";
import { MAX_BATCH_CALLS, TXN_BATCH } from "./peer-transaction-route.js";
import { answerOf, type PeerSender } from "./peer-sender.js";

type BatchedOp = "txn-prepare" | "txn-finish";

interface Pending {
  readonly op: BatchedOp;
  readonly call: Uint8Array;
  resolve(answer: PeerAnswer): void;
  reject(error: unknown): void;
}

/**
 * One node's transaction prepares and finishes, sent together (DESIGN.md
 * §9): the calls queued in one event turn go at its end as one `txn-batch`
 * exchange (a call alone goes as itself). With many transactions in flight
 * their prepares and finishes to a node are ready together (the finishes
 * after one group commit of decisions), and one request and answer cost
 * both nodes about what one call did. Each call is answered as if sent
 * alone; a batch that fails in transit fails each of its calls as that
 * call would have (UNAVAILABLE). A node that refuses batches whole (one
 * that predates them, in a rolling upgrade) gets its calls one by one.
 */
export class PeerBatcher {
  #queue: Pending[] = [];
  #scheduled = false;
  /** The node refused a batch whole: calls go one by one from then on. */
  #unbatched = false;

  constructor(
    private readonly node: number,
    private readonly sender: PeerSender,
  ) {}

  send(op: BatchedOp, init: MessageInitShape<typeof PeerCallSchema>): Promise<PeerAnswer> {
    return new Promise<PeerAnswer>((resolve, reject) => {
      this.#queue.push({ op, call: initToBinary(PeerCallSchema, init), resolve, reject });
      if (this.#scheduled) return;
      this.#scheduled = true;
      setImmediate(() => this.#flush());
    });
  }

  #flush(): void {
    this.#scheduled = false;
    const queue = this.#queue;
    this.#queue = [];
    for (let i = 0; i < queue.length; i += MAX_BATCH_CALLS) this.#send(queue.slice(i, i + MAX_BATCH_CALLS));
  }

  #send(calls: Pending[]): void {
    if (calls.length === 1 || this.#unbatched) {
      for (const c of calls) this.sender.exchange(this.node, c.op, c.call, undefined, (status, body) => answerOf(this.node, status, body, undefined)).then(c.resolve, c.reject);
      return;
    }
    const body = initToBinary(PeerCallBatchSchema, { calls: calls.map(({ op, call }) => ({ op, call })) });
    this.sender.exchange(this.node, TXN_BATCH, body, undefined, (status, answer) => this.#read(status, answer, calls.length)).then(
      (batch) => {
        for (const [i, c] of calls.entries()) {
          const a = batch.answers[i]!;
          answerOf(this.node, a.status, a.body, undefined).then(c.resolve, c.reject);
        }
      },
      (e: unknown) => {
        if (e instanceof Unavailable) {
          for (const c of calls) c.reject(e);
          return;
        }
        // Refused whole: none of its calls ran there.
        this.#unbatched = true;
        this.#send(calls);
      },
    );
  }

  async #read(status: number, body: Uint8Array, calls: number): Promise<PeerAnswerBatch> {
    if (status !== 200) await answerOf(this.node, status, body, undefined); // throws the error it names
    let batch: PeerAnswerBatch;
    try {
      batch = binaryDecoder(PeerAnswerBatchSchema)(body);
    } catch (e) {
      throw new Unavailable(`node ${this.node}'s answer to a batch does not decode: ${String(e)}`);
    }
    if (batch.answers.length !== calls) throw new Unavailable(`node ${this.node} answered a batch of ${calls} calls with ${batch.answers.length} answers`);
    return batch;
  }
}
