import { join } from "node:path";
import { open, type RootDatabase } from "lmdb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDirs } from "../../test/fixtures/temp-dirs.js";
import { OwnFlush } from "./own-flush.js";

const tempDir = tempDirs("cairn-own-flush-spec-");
let root: RootDatabase<number, string>;
let flushes: OwnFlush;
const ownFlush = (_root: RootDatabase<number, string>) => flushes.of();

beforeAll(() => {
  root = open<number, string>({ path: join(tempDir(), "data"), compression: false });
  flushes = new OwnFlush(root);
});
afterAll(() => root?.close());

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("OwnFlush: the flush of the batch a write joined, or of a later one", () => {
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

  it("resolves for every batch while later batches keep coming, each after its own write is committed", async () => {
    const resolved = new Set<number>();
    const pending: Array<Promise<void>> = [];
    // One write per event turn: each its own batch (bounded: 40 turns).
    for (let turn = 0; turn < 40; turn++) {
      void root.put(`t${turn}`, turn);
      pending.push(
        ownFlush(root).then(() => {
          expect(root.get(`t${turn}`)).toBe(turn);
          resolved.add(turn);
        }),
      );
      await nextTurn();
    }
    await Promise.all(pending);
    // lmdb-js may resolve batches' flushes out of order (a later batch's flush covers the earlier ones on disk): every one resolves.
    expect(resolved.size).toBe(40);
  });

  it("releases every write taken before a flush that resolves, whichever batch's resolves first", async () => {
    // lmdb-js's `flushed` thenable, driven by hand: which batch flushes when is the test's to say.
    const batches: Array<() => void> = [];
    const fake = { flushed: { then: (onFlushed: () => void) => (batches.push(onFlushed), Promise.resolve()) } };
    const tracker = new OwnFlush(fake as unknown as RootDatabase);
    const released: number[] = [];
    const writes = [0, 1, 2].map((i) => tracker.of().then(() => void released.push(i)));
    batches[1]!(); // the second batch's flush: the first write's batch is on disk too
    await Promise.all(writes.slice(0, 2));
    expect(released).toEqual([0, 1]);
    batches[0]!(); // late, out of order: nothing more to release
    await Promise.resolve();
    expect(released).toEqual([0, 1]);
    batches[2]!();
    await writes[2];
    expect(released).toEqual([0, 1, 2]);
  });
});
