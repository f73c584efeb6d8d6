import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { callErrorOf } from "../../test/fixtures/call-outcome.js";
import { callKeys } from "../api/call-keys.js";
import { sha256 } from "../api/sha256.js";
import { checkSameCall, deriveKey, hashRequest, type CallIdentity } from "./idempotency.js";
import { taskIdForKey } from "./tasks/task-record.js";

describe("deriveKey", () => {
  it("is stable, and differs for another seed, target, method or alias", () => {
    const key = deriveKey("seed", "bank.v1.Account", "alice", "Deposit", "pay-1");
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(deriveKey("seed", "bank.v1.Account", "alice", "Deposit", "pay-1")).toBe(key);
    const others = [
      deriveKey("seed2", "bank.v1.Account", "alice", "Deposit", "pay-1"),
      deriveKey("seed", "bank.v1.Other", "alice", "Deposit", "pay-1"),
      deriveKey("seed", "bank.v1.Account", "bob", "Deposit", "pay-1"),
      deriveKey("seed", "bank.v1.Account", "alice", "Withdraw", "pay-1"),
      deriveKey("seed", "bank.v1.Account", "alice", "Deposit", "pay-2"),
      deriveKey("seed", "bank.v1.Account", "alic", "eDeposit", "pay-1"),
    ];
    expect(new Set([key, ...others]).size).toBe(others.length + 1);
  });

  it("is the same in the browser client, byte for byte", () => {
    const { deriveKey: browserDeriveKey, taskIdForKey: browserTaskIdForKey } = callKeys(sha256);
    for (const alias of ["a", "café", "🙂", ""]) {
      expect(browserDeriveKey("s", "t.v1.T", "id", "M", alias)).toBe(deriveKey("s", "t.v1.T", "id", "M", alias));
      expect(browserTaskIdForKey(alias)).toBe(taskIdForKey(alias));
    }
  });
});

describe("checkSameCall", () => {
  const call: CallIdentity = { stateType: "bank.v1.Account", actorId: "alice", method: "Deposit", requestHash: hashRequest(new Uint8Array([1])) };

  it("accepts the same call", () => {
    expect(() => checkSameCall("k", call, { ...call })).not.toThrow();
  });

  it.each([
    ["stateType", "stateType"],
    ["actorId", "actorId"],
    ["method", "method"],
    ["requestHash", "request"],
  ] as const)("refuses a reused key with another %s (FAILED_PRECONDITION)", (field, word) => {
    const other = { ...call, [field]: field === "requestHash" ? hashRequest(new Uint8Array([2])) : "other" };
    const e = callErrorOf(() => checkSameCall("k", call, other));
    expect(e.code).toBe(Code.FailedPrecondition);
    expect(e.message).toBe(`idempotency key "k" was first used with another ${word} (bank.v1.Account/alice.Deposit)`);
  });
});
