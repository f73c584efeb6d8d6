import { create, toBinary } from "@bufbuild/protobuf";
import { codeToHttpStatus, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { PeerAnswerSchema } from "../../generated/cairn/v1/peer_pb.js";
import type { MethodSpec } from "../api/spec.js";
import { toWireError } from "../api/wire-error.js";
import { LockConflict } from "../runtime/actor-lock.js";
import { ParticipantLetGo } from "../runtime/transaction-side.js";

/** A peer call's answer as it goes on the wire: its HTTP status, and its body (JSON: a Connect error). */
export interface AnswerBytes {
  readonly status: number;
  readonly json: boolean;
  readonly body: Uint8Array;
}

/**
 * The one mapping of a peer call's outcome to its answer (DESIGN.md §9),
 * alone or in a batch (peer-call-route.ts, peer-transaction-route.ts):
 * its encoded answer with 200; a lost wait-die is an answer too (200, a
 * `conflict`: the coordinator retries its transaction); any other error
 * as `toWireError` maps it, in Connect's JSON error form (`method`, once
 * known, maps its declared errors).
 */
export function answerBytes(answer: Promise<Uint8Array>, method: () => MethodSpec | undefined): Promise<AnswerBytes> {
  return answer.then(
    (body) => ({ status: 200, json: false, body }),
    (e: unknown) => {
      if (e instanceof LockConflict) {
        const body = toBinary(PeerAnswerSchema, create(PeerAnswerSchema, { conflict: e.message || "lock conflict", letGo: e instanceof ParticipantLetGo }));
        return { status: 200, json: false, body };
      }
      const err = toWireError(e, method());
      return { status: codeToHttpStatus(err.code), json: true, body: errorToJsonBytes(err, {}) };
    },
  );
}
