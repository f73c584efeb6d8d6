import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { callErrorOf } from "../../test/fixtures/call-outcome.js";
import { MAX_ACTOR_ID_BYTES, validateActorId } from "./actor-id.js";

/** The message of the INVALID_ARGUMENT `validateActorId(id)` throws. */
function refusal(id: string): string {
  const e = callErrorOf(() => validateActorId(id));
  expect(e.code).toBe(Code.InvalidArgument);
  return e.message;
}

const accepts = (id: string) => expect(() => validateActorId(id), JSON.stringify(id)).not.toThrow();

describe("validateActorId", () => {
  it("accepts any well-formed Unicode without control characters", () => {
    for (const id of ["a", "alice@example.com", "café", "東京", "🙂", "with space", "%41", "\u0080"]) accepts(id);
  });

  it("refuses the empty id", () => {
    expect(refusal("")).toMatch(/missing actor id/);
  });

  it.each([
    ["NUL", "a\u0000b", "U+0000"],
    ["newline", "a\nb", "U+000A"],
    ["unit separator", "\u001f", "U+001F"],
    ["DEL", "x\u007f", "U+007F"],
  ])("refuses a control character (%s)", (_name, id, code) => {
    expect(refusal(id)).toContain(`control character (${code})`);
  });

  it("refuses lone surrogates, high or low, at the end or inside", () => {
    expect(refusal("a\ud800")).toMatch(/lone surrogate at 1/);
    expect(refusal("\udc00a")).toMatch(/lone surrogate at 0/);
    expect(refusal("\ud800\ud800\udc00")).toMatch(/lone surrogate at 0/);
  });

  it("counts UTF-8 bytes, not characters, against the limit", () => {
    accepts("a".repeat(MAX_ACTOR_ID_BYTES));
    expect(refusal("a".repeat(MAX_ACTOR_ID_BYTES + 1))).toMatch(/longer than 512 bytes in UTF-8 \(513\)/);
    // é is 2 bytes, 東 3, 🙂 (a surrogate pair) 4.
    accepts("é".repeat(256));
    expect(refusal("é".repeat(256) + "a")).toMatch(/\(513\)/);
    accepts("🙂".repeat(128));
    expect(refusal("🙂".repeat(128) + "a")).toMatch(/\(513\)/);
    expect(refusal("東".repeat(171))).toMatch(/\(513\)/);
  });
});
