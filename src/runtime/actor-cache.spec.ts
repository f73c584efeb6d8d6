import { describe, expect, it } from "vitest";
import { ActorCache } from "./actor-cache.js";

const T = "t.State";

describe("ActorCache: a bounded LRU of actor cells", () => {
  it("never holds more than its capacity, evicting the least recently used", () => {
    const cache = new ActorCache(10);
    for (let i = 0; i < 10; i++) cache.cell(T, `a${i}`);
    const first = cache.cell(T, "a0"); // used again: now the newest
    for (let i = 10; i < 15; i++) cache.cell(T, `a${i}`);
    expect(cache.size).toBe(10);
    expect(cache.peek(`${T}\u0000a0`)).toBe(first);
    for (let i = 1; i <= 5; i++) expect(cache.peek(`${T}\u0000a${i}`)).toBeUndefined();
    for (let i = 6; i < 15; i++) expect(cache.peek(`${T}\u0000a${i}`)).toBeDefined();
  });

  it("keeps a cell used in every round of a working set smaller than its capacity (no move needed), and the same cell each time", () => {
    const cache = new ActorCache(100);
    const cells = Array.from({ length: 40 }, (_, i) => cache.cell(T, `w${i}`));
    for (let round = 0; round < 10; round++) for (let i = 0; i < 40; i++) expect(cache.cell(T, `w${i}`)).toBe(cells[i]);
    expect(cache.size).toBe(40);
  });

  it("a cell used within the newer half of the capacity survives any number of insertions while it keeps being used", () => {
    const cache = new ActorCache(10);
    const hot = cache.cell(T, "hot");
    for (let i = 0; i < 1000; i++) {
      cache.cell(T, `cold${i}`);
      if (i % 4 === 0) expect(cache.cell(T, "hot")).toBe(hot);
      expect(cache.size).toBeLessThanOrEqual(10);
    }
  });

  it("never evicts a busy cell", () => {
    const cache = new ActorCache(3);
    const busy = cache.cell(T, "busy");
    busy.busy = 1;
    for (let i = 0; i < 20; i++) cache.cell(T, `x${i}`);
    expect(cache.peek(`${T}\u0000busy`)).toBe(busy);
  });

  it("forgets an evicted cell everywhere: the next call gets a new one, also for ids holding a NUL", () => {
    const cache = new ActorCache(2);
    const old = cache.cell(T, "a\u0000b");
    cache.cell(T, "x");
    cache.cell("other.Type", "x"); // evicts a\0b
    expect(cache.peek(`${T}\u0000a\u0000b`)).toBeUndefined();
    const fresh = cache.cell(T, "a\u0000b");
    expect(fresh).not.toBe(old);
    expect(fresh.key).toBe(`${T}\u0000a\u0000b`);
    expect(cache.size).toBe(2);
  });
});
