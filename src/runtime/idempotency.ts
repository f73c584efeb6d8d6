import { createHash } from "node:crypto";
import { NODE_CALL_KEYS } from "../api/node-call-keys.js";
import { failedPrecondition } from "../api/errors.js";
import type { IdempotencyRecord } from "../store/store.js";

/** Who a key was used for: a reused key must match all of it. */
export interface CallIdentity {
  readonly stateType: string;
  readonly actorId: string;
  readonly method: string;
  readonly requestHash: string;
}

export function hashRequest(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("base64url");
}

/** The key `ref.idempotently(alias)` sends (the rule is in src/api/call-keys.ts). */
export const deriveKey = NODE_CALL_KEYS.deriveKey;

/** Throws FAILED_PRECONDITION if `key` was first used for another call. */
export function checkSameCall(key: string, stored: CallIdentity, call: CallIdentity): void {
  const fields = ["stateType", "actorId", "method", "requestHash"] as const;
  const differs = fields.find((f) => stored[f] !== call[f]);
  if (differs) {
    const what = differs === "requestHash" ? "request" : differs;
    throw failedPrecondition(
      `idempotency key ${JSON.stringify(key)} was first used with another ${what}` +
        ` (${stored.stateType}/${stored.actorId}.${stored.method})`,
    );
  }
}

export type { IdempotencyRecord };
