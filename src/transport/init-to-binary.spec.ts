// initToBinary against protobuf-es: every peer call shape decodes to the
// message create() would build from the same init.
import { create, equals, fromBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { PeerAnswerSchema, PeerCallSchema } from "../../generated/cairn/v1/peer_pb.js";
import { initToBinary } from "./init-to-binary.js";
import { PeerAnswerBatchSchema, PeerCallBatchSchema } from "../../generated/cairn/v1/peer_batch_pb.js";
import { peerCall, txnRef } from "../../test/fixtures/peer-call-shapes.js";

const call = { ...peerCall, idempotencyKey: "" };
const ref = txnRef;

const shapes: Record<string, MessageInitShape<typeof PeerCallSchema>> = {
  "txn-run": { ...call, ...ref, txnSeq: 4, txnUndoTo: 0, txnPrepare: false },
  "txn-run, prepare with it": { ...call, ...ref, txnSeq: 0, txnUndoTo: undefined, txnPrepare: true },
  "txn-run, first call": { ...call, ...ref, txnSeq: 0, txnUndoTo: undefined, trace: {} },
  "txn-prepare": { ...ref, txnUndoTo: 2 },
  "txn-finish": { txnId: "t0.1.2", txnEpoch: 1n, txnCommit: true, txnPartitions: [0, 5, 200, 70000] },
  "txn-finish, abort to all": { txnId: "t0.1.2", txnEpoch: 0n, txnCommit: false, txnPartitions: [] },
  "txn-decision": { txnId: "t0.1.2", txnCoordinator: 0 },
  execute: { ...call, trackReads: true },
  spawn: { ...call, runAt: 0, proposedId: "" },
  wait: { taskId: "p1-abc" },
  control: { taskId: "p1-abc", action: "pause" },
  progress: { taskId: "p1-abc", progressSeen: 1_700_000_000_123n },
  "a plain age": { txnAge: { time: 0, origin: 0, seq: 1 } },
};

describe("initToBinary", () => {
  for (const [name, init] of Object.entries(shapes)) {
    it(`writes ${name} as create() and toBinary would`, () => {
      const decoded = fromBinary(PeerCallSchema, initToBinary(PeerCallSchema, init));
      expect(equals(PeerCallSchema, decoded, create(PeerCallSchema, init))).toBe(true);
      // An explicit-presence field set to its zero value is written (run_at 0 is not "no run_at").
      if ("runAt" in init) expect(decoded.runAt).toBe(0);
    });
  }

  it("writes a PeerAnswer's fields too", () => {
    const init = { prepared: [1, 2], committed: true, conflict: "lost", letGo: true, response: new Uint8Array([1]) };
    expect(equals(PeerAnswerSchema, fromBinary(PeerAnswerSchema, initToBinary(PeerAnswerSchema, init)), create(PeerAnswerSchema, init))).toBe(true);
  });

  it("writes batches (repeated messages) too", () => {
    const calls = { calls: [{ op: "txn-finish", call: new Uint8Array([1, 2]) }, { op: "txn-prepare", call: new Uint8Array() }] };
    expect(equals(PeerCallBatchSchema, fromBinary(PeerCallBatchSchema, initToBinary(PeerCallBatchSchema, calls)), create(PeerCallBatchSchema, calls))).toBe(true);
    const answers = { answers: [{ status: 200, body: new Uint8Array([9]) }, { status: 409, body: new Uint8Array() }] };
    expect(equals(PeerAnswerBatchSchema, fromBinary(PeerAnswerBatchSchema, initToBinary(PeerAnswerBatchSchema, answers)), create(PeerAnswerBatchSchema, answers))).toBe(true);
  });

  it("refuses a field the message does not have", () => {
    expect(() => initToBinary(PeerCallSchema, { nope: 1 } as never)).toThrow(/has no field nope/);
  });
});
