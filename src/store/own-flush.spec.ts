import { join } from "node:path";
import { open, type RootDatabase } from "lmdb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDirs } from "../../test/fixtures/temp-dirs.js";
import { ownFlush } from "./own-flush.js";

const tempDir = tempDirs("cairn-own-flush-spec-");
let root: RootDatabase<number, string>;

beforeAll(() => {
  root = open<number, string>({ path: join(tempDir(), "data"), compression: false });
});
afterAll(() => root?.close());

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("ownFlush: the flush of the batch a write joined", () => {
  it("resolves once the write is committed, for every write of a turn", async () => {
    const writes = Array.from({ length: 50 }, (_, i) => {
      const visible = root.put(`k${i}`, i);
      return { visible, flushed: ownFlush(root), i };
    });
    let committed = 0;
    for (const w of writes) void w.visible.then(() => committed++);
    for (const w of writes) {
      await w.flushed;
      // Flushed implies committed: every write of the batch is visible by then.
      expect(root.get(`k${w.i}`)).toBe(w.i);
    }
    expect(committed).toBe(50);
  });

  it("resolves in batch order while later batches keep coming, each write waiting only for its own", async () => {
    const resolved: number[] = [];
    const pending: Array<Promise<void>> = [];
    // One write per event turn: each its own batch (bounded: 40 turns).
    for (let turn = 0; turn < 40; turn++) {
      void root.put(`t${turn}`, turn);
      pending.push(ownFlush(root).then(() => void resolved.push(turn)));
      await nextTurn();
    }
    await Promise.all(pending);
    expect(resolved).toEqual([...resolved].sort((a, b) => a - b));
    expect(resolved).toHaveLength(40);
    // The first write's flush did not wait for the last batch: it resolved before the last one's.
    expect(resolved[0]).toBe(0);
  });

  it("is taken in the write's own run: a write's flush asked for later may be a newer batch's (why it exists)", async () => {
    void root.put("a", 1);
    const own = ownFlush(root);
    await nextTurn();
    void root.put("b", 2);
    const later = ownFlush(root);
    let ownFirst = false;
    await Promise.race([own.then(() => (ownFirst = true)), later]);
    await Promise.all([own, later]);
    // Flushes resolve in batch order: the earlier batch's is never behind the later one's.
    expect(ownFirst).toBe(true);
  });
});
