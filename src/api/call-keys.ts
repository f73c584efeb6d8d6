// The names a call chooses before it is sent: the idempotency key of
// `ref.idempotently(alias)` and the id of a spawned task. The server, the
// Node client and the browser must agree byte for byte, so the rule lives
// here once, over whichever SHA-256 the platform has (node:crypto, or the
// bundled ./sha256.js where only async WebCrypto exists).
import { toBase64Url, toHex } from "./sha256.js";

/** SHA-256 of a string's UTF-8 bytes. */
export type Sha256 = (text: string) => Uint8Array;

export interface CallKeys {
  /**
   * The key `ref.idempotently(alias)` sends: a hash of the context's seed,
   * the target and the alias, so the same alias on another actor or method
   * is a different key rather than a conflict.
   */
  deriveKey(seed: string, stateType: string, actorId: string, method: string, alias: string): string;
  /** A spawn with an idempotency key always names the same task. */
  taskIdForKey(key: string): string;
}

export function callKeys(sha256: Sha256): CallKeys {
  return {
    deriveKey: (seed, stateType, actorId, method, alias) =>
      toBase64Url(sha256(JSON.stringify([seed, stateType, actorId, method, alias]))),
    taskIdForKey: (key) => `k-${toHex(sha256(key)).slice(0, 32)}`,
  };
}

/** A fresh task id: sorts by creation time (`now`), then 6 random bytes. */
export function newTaskId(now: number): string {
  return `${now.toString(36).padStart(10, "0")}-${randomHex(6)}`;
}

export function randomHex(bytes: number): string {
  return toHex(globalThis.crypto.getRandomValues(new Uint8Array(bytes)));
}
