import { describe, expect, it } from "vitest";
import { actorHash } from "./partition.js";

/** The rule as first written: FNV-1a over TextEncoder's bytes (servers, Node clients and browsers must agree with it). */
function reference(stateType: string, actorId: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(`${stateType}\0${actorId}`)) hash = Math.imul(hash ^ byte, 0x01000193);
  return hash >>> 0;
}

describe("actorHash", () => {
  it("keeps the values placement was made with", () => {
    expect(actorHash("bank.v1.Account", "acct-0")).toBe(2967653611);
    expect(actorHash("bank.v1.Account", "zoë")).toBe(2073125632);
    expect(actorHash("probe.v1.Probe", "日本")).toBe(341938316);
    expect(actorHash("t", "🪨")).toBe(743307454);
    expect(actorHash("t", "\ud800")).toBe(1741240846);
    expect(actorHash("t", "a\udc00b")).toBe(2431743473);
  });

  it("hashes the UTF-8 bytes TextEncoder makes, lone surrogates included", () => {
    // Code units from every UTF-8 length class and both surrogate halves, in random order.
    const units = [0x41, 0x7f, 0x80, 0x7ff, 0x800, 0xfffd, 0xffff, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0xd83e, 0xdea8, 0];
    let seed = 7;
    const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (let n = 0; n < 2_000; n++) {
      const id = String.fromCharCode(...Array.from({ length: Math.floor(random() * 8) }, () => units[Math.floor(random() * units.length)]!));
      const type = n % 2 ? "bank.v1.Account" : String.fromCharCode(0xd800 + (n % 4));
      expect(actorHash(type, id)).toBe(reference(type, id));
    }
  });
});
