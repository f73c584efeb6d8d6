import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { callErrorOf } from "../../test/fixtures/call-outcome.js";
import { decodeActorIdHeader, encodeActorIdHeader } from "./actor-id-header.js";

/** What Node hands a server for header bytes: each byte as one latin1 character. */
const asReceived = (bytes: number[]) => String.fromCharCode(...bytes);

/** The message of the INVALID_ARGUMENT `fn` throws. */
function invalid(fn: () => unknown): string {
  const e = callErrorOf(fn);
  expect(e.code).toBe(Code.InvalidArgument);
  return e.message;
}

describe("the x-cairn-actor-id header codec", () => {
  it("sends visible ASCII without % as is", () => {
    expect(encodeActorIdHeader("alice@example.com")).toBe("alice@example.com");
    expect(encodeActorIdHeader("a+b")).toBe("a+b");
  });

  it("percent-encodes %, spaces and UTF-8 bytes in upper-case hex", () => {
    expect(encodeActorIdHeader("100%")).toBe("100%25");
    expect(encodeActorIdHeader("a b")).toBe("a%20b");
    expect(encodeActorIdHeader("café")).toBe("caf%C3%A9");
    expect(encodeActorIdHeader("🙂")).toBe("%F0%9F%99%82");
  });

  it("round-trips every kind of id", () => {
    for (const id of ["plain", "100%", "a b", "café", "東京", "🙂x", "%41", "+", "~!*'()"]) {
      expect(decodeActorIdHeader(encodeActorIdHeader(id))).toBe(id);
    }
  });

  it("decodes either hex case and keeps + a plus", () => {
    expect(decodeActorIdHeader("caf%c3%a9")).toBe("café");
    expect(decodeActorIdHeader("a+b%2B")).toBe("a+b+");
  });

  it("refuses to encode an invalid id", () => {
    expect(invalid(() => encodeActorIdHeader(""))).toMatch(/missing actor id/);
    expect(invalid(() => encodeActorIdHeader("a\nb"))).toMatch(/control character/);
  });

  it.each(["%", "a%4", "%zz", "%%41", "abc%G0"])("refuses the malformed escape in %j", (value) => {
    expect(invalid(() => decodeActorIdHeader(value))).toMatch(/malformed escape/);
  });

  it("refuses raw non-ASCII bytes, naming where", () => {
    expect(invalid(() => decodeActorIdHeader(asReceived([0x63, 0x61, 0x66, 0xc3, 0xa9])))).toMatch(/raw non-ASCII byte at 3/);
  });

  it("refuses escapes that are not UTF-8 once decoded", () => {
    for (const value of ["%C3", "%FF", "%C3%28", "%ED%A0%80"]) {
      expect(invalid(() => decodeActorIdHeader(value))).toMatch(/not UTF-8/);
    }
  });
});
