import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pino } from "pino";
import { tempDirs } from "../../test/fixtures/temp-dirs.js";
import { LmdbStore } from "./lmdb-store.js";

const tempDir = tempDirs("cairn-range-scans-spec-");
let store: LmdbStore;
const T = "probe.v1.Probe";
// 30 ids in id order: 9 contain "blue", ids of another type around them.
const IDS = Array.from({ length: 30 }, (_, i) => `a${String(i).padStart(2, "0")}-${i % 3 === 0 && i < 27 ? "blue" : "red"}`);

beforeAll(async () => {
  store = new LmdbStore({ path: join(tempDir(), "data"), durability: "relaxed", logger: pino({ level: "silent" }) });
  const write = (stateType: string, actorId: string) => ({ stateType, actorId, baseVersion: 0, state: { version: 1, bytes: new Uint8Array([1]) } });
  await store.commit({ states: [...IDS.map((id) => write(T, id)), write("a.Before", "a00-blue"), write("z.After", "a01-blue")], idempotency: [] });
});
afterAll(() => store?.close());

/** Every page of a listing, following `next`; each page's scan bounded by `scanLimit`. */
function pages(contains: string, limit: number, scanLimit: number, prefix = "") {
  const out: string[][] = [];
  let after: string | undefined;
  for (let i = 0; i < 100; i++) {
    const page = store.actorIds(T, { prefix, contains }, after, limit, scanLimit);
    out.push(page.ids);
    if (page.next === undefined) return out;
    after = page.next;
  }
  throw new Error("listing never ended");
}

describe("actor ids by substring, a bounded walk", () => {
  it("finds every id containing the text, in order, across pages, never past a type's range", () => {
    const all = pages("blue", 4, 1000);
    expect(all.flat()).toEqual(IDS.filter((id) => id.includes("blue")));
    expect(all.map((p) => p.length)).toEqual([4, 4, 1]);
  });

  it("looks at no more than scanLimit ids a call: a short (or empty) page and a token, and nothing is skipped", () => {
    const all = pages("blue", 50, 5);
    // 30 ids, 5 looked at a call: 6 calls (the last finds the end).
    expect(all).toHaveLength(6);
    for (const page of all) expect(page.length).toBeLessThanOrEqual(2);
    expect(all.flat()).toEqual(IDS.filter((id) => id.includes("blue")));
    // No id contains it: empty pages, each with a token until the end.
    expect(pages("green", 50, 7).flat()).toEqual([]);
  });

  it("with a prefix reads only the prefix's range, and an empty text matches every id", () => {
    expect(pages("", 50, 1000, "a1").flat()).toEqual(IDS.filter((id) => id.startsWith("a1")));
    expect(pages("blue", 50, 1000, "a1").flat()).toEqual(["a12-blue", "a15-blue", "a18-blue"]);
    expect(pages("", 50, 1000).flat()).toEqual(IDS);
  });
});
