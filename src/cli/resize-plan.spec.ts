import { describe, expect, it } from "vitest";
import { describePlan, resizePlan } from "./resize-plan.js";

describe("resizePlan", () => {
  it("doubling moves the partitions with p mod 2M = i + M from node i to node i + M, and nothing else", () => {
    const plan = resizePlan(8, 2, 4);
    expect(plan.volumes).toBe(4);
    expect(plan.moves).toEqual([
      { partition: 2, from: 0, to: 2 },
      { partition: 3, from: 1, to: 3 },
      { partition: 6, from: 0, to: 2 },
      { partition: 7, from: 1, to: 3 },
    ]);
    expect(plan.recordsWritten).toEqual([0, 1, 2, 3]);
    expect(plan.recordsRemoved).toEqual([]);
  });

  it("halving is the reverse: node i + M hands all its partitions to node i, and its record goes", () => {
    const plan = resizePlan(8, 4, 2);
    expect(plan.moves).toEqual([
      { partition: 2, from: 2, to: 0 },
      { partition: 3, from: 3, to: 1 },
      { partition: 6, from: 2, to: 0 },
      { partition: 7, from: 3, to: 1 },
    ]);
    expect(plan.recordsWritten).toEqual([0, 1]);
    expect(plan.recordsRemoved).toEqual([2, 3]);
  });

  it("a factor of four, and down to one node: every partition ends on its new owner p mod M'", () => {
    for (const [from, to] of [
      [1, 4],
      [4, 1],
      [2, 8],
      [8, 2],
    ] as const) {
      const plan = resizePlan(8, from, to);
      const moved = new Map(plan.moves.map((m) => [m.partition, m]));
      for (let p = 0; p < 8; p++) {
        const move = moved.get(p);
        if (p % from === p % to) expect(move, `partition ${p} stays`).toBeUndefined();
        else expect(move).toEqual({ partition: p, from: p % from, to: p % to });
      }
      expect(plan.volumes).toBe(Math.max(from, to));
    }
  });

  it("the same node count moves nothing and rewrites the records", () => {
    const plan = resizePlan(4, 2, 2);
    expect(plan.moves).toEqual([]);
    expect(plan.recordsWritten).toEqual([0, 1]);
  });

  it("refuses counts that are not powers of two dividing N", () => {
    expect(() => resizePlan(8, 2, 3)).toThrow(/new node count 3 must be a power of two dividing the partition count 8/);
    expect(() => resizePlan(8, 2, 16)).toThrow(/new node count 16/);
    expect(() => resizePlan(8, 0, 2)).toThrow(/current node count 0/);
    expect(() => resizePlan(6, 2, 1)).toThrow(/partition count 6 is not a power of two/);
  });
});

describe("describePlan", () => {
  it("names each move with its volumes' folders", () => {
    const lines = describePlan(resizePlan(4, 1, 2), ["/v/0", "/v/1"]);
    expect(lines).toEqual([
      "resize 4 partitions from 1 to 2 nodes over 2 volumes",
      "  move partition 1: node 0 (/v/0) -> node 1 (/v/1)",
      "  move partition 3: node 0 (/v/0) -> node 1 (/v/1)",
      "  write the layout record of node 0 (/v/0): node 0 of 2",
      "  write the layout record of node 1 (/v/1): node 1 of 2",
    ]);
  });
});
