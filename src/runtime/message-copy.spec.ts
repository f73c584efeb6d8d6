import { clone, create, toBinary, type Message } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { AccountSchema } from "../../generated/bank/v1/account_pb.js";
import { InnerSchema, LegacySchema, ShapesSchema, WithStructSchema, randomShapes, randomSource } from "../../test/fixtures/message-shapes.js";
import { copyMessage } from "./message-copy.js";

type Loose = Record<string, unknown>;

describe("copyMessage: clone's result, by a plan per type", () => {
  it("equals clone over 200 random messages of every field kind, and encodes the same", () => {
    const rnd = randomSource(7);
    for (let i = 0; i < 200; i++) {
      const m = randomShapes(rnd);
      const copy = copyMessage(ShapesSchema, m);
      expect(copy).toStrictEqual(clone(ShapesSchema, m));
      expect(toBinary(ShapesSchema, copy)).toEqual(toBinary(ShapesSchema, m));
    }
  });

  it("shares nothing mutable with the original: nested messages, lists, maps, oneofs and bytes are new", () => {
    const inner = create(InnerSchema, { name: "in", n: 5n, data: new Uint8Array([1, 2]), kids: [create(InnerSchema, { name: "kid" })] });
    const m = create(ShapesSchema, {
      by: new Uint8Array([9]),
      inner,
      rinner: [inner],
      rby: [new Uint8Array([3])],
      ri32: [1, 2],
      msi: { a: 1n },
      mim: { "1": inner },
      mbb: { true: new Uint8Array([4]) },
      choice: { case: "cinner", value: inner },
      wby: new Uint8Array([5]),
      self: create(ShapesSchema, { s: "deep" }),
    } as never) as unknown as Loose;
    const before = toBinary(ShapesSchema, m as never);
    const c = copyMessage(ShapesSchema, m as never) as unknown as Loose;
    (c.by as Uint8Array)[0] = 0;
    ((c.inner as Loose).data as Uint8Array)[0] = 0;
    ((c.inner as Loose).kids as Loose[])[0]!.name = "changed";
    (c.rinner as Loose[])[0]!.name = "changed";
    (c.rby as Uint8Array[])[0]![0] = 0;
    (c.ri32 as number[]).push(3);
    (c.msi as Loose).b = 2n;
    ((c.mim as Record<string, Loose>)["1"]!).name = "changed";
    ((c.mbb as Record<string, Uint8Array>).true!)[0] = 0;
    ((c.choice as { value: Loose }).value).name = "changed";
    (c.wby as Uint8Array)[0] = 0;
    (c.self as Loose).s = "changed";
    expect(toBinary(ShapesSchema, m as never)).toEqual(before);
  });

  it("copies the bank's Account (the writer's common case) with bigints as they are", () => {
    const a = create(AccountSchema, { owner: "ann", balance: 2n ** 60n, history: ["opened"] });
    const c = copyMessage(AccountSchema, a);
    expect(c).toStrictEqual(clone(AccountSchema, a));
    c.history.push("more");
    expect(a.history).toEqual(["opened"]);
  });

  it("falls back to clone for unknown fields, extensions' home ($unknown), prototype defaults (proto2) and Struct fields", () => {
    const withUnknown = create(InnerSchema, { name: "u" });
    withUnknown.$unknown = [{ no: 99, wireType: 0, data: new Uint8Array([1]) }];
    const c1 = copyMessage(InnerSchema, withUnknown);
    expect(c1).toStrictEqual(clone(InnerSchema, withUnknown));
    expect(c1.$unknown).not.toBe(withUnknown.$unknown);
    // Nested: the inner message with unknown fields is cloned, the outer copied.
    const outer = create(ShapesSchema, { inner: withUnknown } as never);
    expect(toBinary(ShapesSchema, copyMessage(ShapesSchema, outer))).toEqual(toBinary(ShapesSchema, outer));

    const legacy = create(LegacySchema, { s: "x" });
    const c2 = copyMessage(LegacySchema, legacy) as unknown as Loose;
    expect(c2.a).toBe(5); // the default, from the prototype
    expect(Object.prototype.hasOwnProperty.call(c2, "a")).toBe(false);
    expect(toBinary(LegacySchema, c2 as never)).toEqual(toBinary(LegacySchema, legacy));

    const st = create(WithStructSchema, { st: { a: [1, { b: "c" }] }, n: 3 } as never) as Message;
    const c3 = copyMessage(WithStructSchema, st) as unknown as Loose;
    expect(c3).toStrictEqual(clone(WithStructSchema, st));
    ((c3.st as Loose).a as unknown[]).push(2);
    expect(((st as unknown as Loose).st as Loose).a).toHaveLength(2);
  });

  it("leaves an unset message or optional field absent, as clone does", () => {
    const m = create(ShapesSchema);
    const c = copyMessage(ShapesSchema, m) as unknown as Loose;
    expect("inner" in c).toBe(false);
    expect("oi32" in c).toBe(false);
    expect(c).toStrictEqual(clone(ShapesSchema, m));
  });
});
