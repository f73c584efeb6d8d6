// binaryDecoder against protobuf-es: every peer message decodes to what
// fromBinary gives, and what fromBinary refuses it refuses too.
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { PeerAnswerBatchSchema, PeerCallBatchSchema } from "../../generated/cairn/v1/peer_batch_pb.js";
import { PeerAnswerSchema, PeerCallSchema } from "../../generated/cairn/v1/peer_pb.js";
import { binaryDecoder } from "./binary-to-message.js";
import { peerCall, txnRef } from "../../test/fixtures/peer-call-shapes.js";

const call = peerCall;
const ref = txnRef;

function same<S extends DescMessage>(schema: S, init: MessageInitShape<S>): void {
  const bytes = toBinary(schema, create(schema, init));
  expect(binaryDecoder(schema)(bytes)).toEqual(fromBinary(schema, bytes));
}

describe("binaryDecoder", () => {
  const calls: Record<string, MessageInitShape<typeof PeerCallSchema>> = {
    "txn-run": { ...call, ...ref, txnSeq: 4, txnUndoTo: 0, txnPrepare: true },
    "txn-run, first call": { ...call, ...ref, txnSeq: 0 },
    "txn-finish": { txnId: "t0.1.2", txnEpoch: 1n, txnCommit: true, txnPartitions: [0, 5, 200, 70000] },
    spawn: { ...call, runAt: 0, proposedId: "p" },
    progress: { taskId: "p1-abc", progressSeen: 1_700_000_000_123n },
    empty: {},
  };
  for (const [name, init] of Object.entries(calls)) it(`reads a PeerCall (${name}) as fromBinary does`, () => same(PeerCallSchema, init));

  it("reads PeerAnswers, batches and an explicit zero as fromBinary does", () => {
    same(PeerAnswerSchema, { prepared: [1, 2], committed: true, conflict: "lost", letGo: true, response: new Uint8Array([1]) });
    same(PeerAnswerSchema, { reads: [{ stateType: "a", actorId: "b", version: 3n }, { stateType: "c", actorId: "d", version: 0n }] });
    same(PeerCallBatchSchema, { calls: [{ op: "txn-finish", call: new Uint8Array([1, 2]) }, { op: "txn-prepare", call: new Uint8Array() }] });
    same(PeerAnswerBatchSchema, { answers: [{ status: 200, body: new Uint8Array([9]) }, { status: 409, body: new Uint8Array() }] });
    const spawn = binaryDecoder(PeerCallSchema)(toBinary(PeerCallSchema, create(PeerCallSchema, { runAt: 0 })));
    expect(spawn.runAt).toBe(0);
  });

  it("reads unpacked repeated numbers and skips unknown fields", () => {
    // prepared = 5 unpacked (5, 7), then an unknown field 99 (varint 1).
    const bytes = new Uint8Array([0x28, 5, 0x28, 7, 0x98, 0x06, 1]);
    const answer = binaryDecoder(PeerAnswerSchema)(bytes);
    expect(answer.prepared).toEqual([5, 7]);
    // Read here, not handed to fromBinary (which keeps unknown fields).
    expect("$unknown" in answer).toBe(false);
    expect("$unknown" in fromBinary(PeerAnswerSchema, bytes)).toBe(true);
    expect("$unknown" in binaryDecoder(PeerCallSchema)(new Uint8Array([0x98, 0x06, 1]))).toBe(false);
  });

  it("gives each message its own lists and maps", () => {
    const decode = binaryDecoder(PeerCallSchema);
    const a = decode(new Uint8Array());
    a.txnPartitions.push(1);
    a.trace["x"] = "y";
    expect(decode(new Uint8Array())).toEqual(fromBinary(PeerCallSchema, new Uint8Array()));
  });

  it("refuses what fromBinary refuses: a truncated message, a wrong wire type", () => {
    const bytes = toBinary(PeerCallSchema, create(PeerCallSchema, { ...call, ...ref }));
    for (const bad of [bytes.subarray(0, bytes.length - 3), new Uint8Array([0x0a, 0xff, 0xff]), new Uint8Array([0x08, 1])]) {
      expect(() => fromBinary(PeerCallSchema, bad)).toThrow();
      expect(() => binaryDecoder(PeerCallSchema)(bad)).toThrow();
    }
  });
});
