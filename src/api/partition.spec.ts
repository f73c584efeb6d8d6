import { describe, expect, it } from "vitest";
import { actorHash, idInPartition, nodeOfPartition, partitionOf, partitionOfId } from "./partition.js";

describe("partitionOf", () => {
  it("is FNV-1a over the state type, a NUL and the actor id", () => {
    expect(actorHash("", "").toString(16)).toBe("50c5d1f"); // FNV-1a of "\0"
    expect(actorHash("bank.Account", "alice")).toBe(actorHash("bank.Account", "alice"));
    expect(actorHash("bank.Account", "alice")).not.toBe(actorHash("bank.Accoun", "talice"));
  });

  it("puts everything in partition 0 when there is one", () => {
    expect(partitionOf("bank.Account", "alice", 1)).toBe(0);
  });

  it("spreads actors over every partition", () => {
    const seen = new Map<number, number>();
    for (let i = 0; i < 8_000; i++) {
      const p = partitionOf("bank.Account", `account-${i}`, 8);
      seen.set(p, (seen.get(p) ?? 0) + 1);
    }
    expect([...seen.keys()].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    for (const count of seen.values()) expect(count).toBeGreaterThan(800);
  });

  it("places partition p on node p mod nodes", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((p) => nodeOfPartition(p, 4))).toEqual([0, 1, 2, 3, 0, 1, 2, 3]);
  });

  it("refuses counts that are not positive integers", () => {
    expect(() => partitionOf("t", "a", 0)).toThrow(/partitions must be a positive integer/);
    expect(() => nodeOfPartition(0, 1.5)).toThrow(/nodes must be a positive integer/);
  });
});

describe("ids marked with their partition", () => {
  it("marks ids only when there are several partitions, and reads the mark back", () => {
    expect(idInPartition("00mwt87qhh-217909e77edb", 0, 1)).toBe("00mwt87qhh-217909e77edb");
    expect(idInPartition("00mwt87qhh-217909e77edb", 3, 8)).toBe("p3_00mwt87qhh-217909e77edb");
    expect(partitionOfId("p3_00mwt87qhh-217909e77edb")).toBe(3);
    expect(partitionOfId("00mwt87qhh-217909e77edb")).toBeUndefined();
    expect(partitionOfId("k-0123")).toBeUndefined();
    expect(partitionOfId("px_1")).toBeUndefined();
  });
});
