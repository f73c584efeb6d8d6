import { describe, expect, it } from "vitest";
import { ReadSet, recordRead, trackReads } from "./read-tracking.js";

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("trackReads / recordRead", () => {
  it("records reads made across awaits and in nested calls, keeping each actor's oldest version", async () => {
    const reads = new ReadSet();
    const nested = async () => {
      await tick();
      recordRead("b", 7);
    };
    const result = await trackReads(reads, async () => {
      recordRead("a", 5);
      await tick();
      recordRead("a", 9);
      recordRead("a", 3);
      await nested();
      return "done";
    });
    expect(result).toBe("done");
    expect([...reads]).toEqual([
      ["a", 3],
      ["b", 7],
    ]);
  });

  it("keeps concurrent runs apart", async () => {
    const first = new ReadSet();
    const second = new ReadSet();
    await Promise.all([
      trackReads(first, async () => {
        await tick();
        recordRead("x", 1);
      }),
      trackReads(second, async () => {
        recordRead("y", 2);
        await tick();
      }),
    ]);
    expect([...first]).toEqual([["x", 1]]);
    expect([...second]).toEqual([["y", 2]]);
  });

  it("records nothing outside a tracked run, also after one failed", async () => {
    const reads = new ReadSet();
    await expect(
      trackReads(reads, async () => {
        recordRead("a", 1);
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    recordRead("a", 0);
    recordRead("late", 1);
    expect([...reads]).toEqual([["a", 1]]);
  });
});
