import { create, toBinary, type DescMessage, type Message } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { AccountSchema } from "../../generated/bank/v1/account_pb.js";
import { InnerSchema, LegacySchema, ShapesSchema, WithStructSchema, randomShapes, randomSource } from "../../test/fixtures/message-shapes.js";
import { encodeState } from "./state-encoder.js";

type Loose = Record<string, unknown>;

/** encodeState's bytes are toBinary's; or both throw. */
function same(desc: DescMessage, m: Message): void {
  let expected: Uint8Array | undefined;
  try {
    expected = toBinary(desc, m);
  } catch {
    expect(() => encodeState(desc, m)).toThrow();
    return;
  }
  expect(Buffer.from(encodeState(desc, m)).toString("hex")).toBe(Buffer.from(expected).toString("hex"));
}

describe("encodeState: toBinary's bytes, by a plan per type", () => {
  it("matches toBinary byte for byte over 1,000 random messages of every field kind", () => {
    const rnd = randomSource(11);
    for (let i = 0; i < 1_000; i++) same(ShapesSchema, randomShapes(rnd));
  });

  it("writes nothing for defaults, and every zero and negative edge as toBinary does", () => {
    same(ShapesSchema, create(ShapesSchema));
    same(InnerSchema, create(InnerSchema));
    same(ShapesSchema, create(ShapesSchema, { i32: -1, s32: -(2 ** 31), i64: -1n, s64: -(2n ** 63n), sf32: -5, sf64: -1n, db: -0, fl: -0, e: -3 } as never));
    // Oneof cases set to zero values are written (the case says they are set); proto3 optional too.
    same(ShapesSchema, create(ShapesSchema, { choice: { case: "ci64", value: 0n }, oi32: 0 } as never));
    same(ShapesSchema, create(ShapesSchema, { choice: { case: "cs", value: "" } } as never));
    // Wrappers holding zero: an empty wrapper message.
    same(ShapesSchema, create(ShapesSchema, { w64: 0n, wby: new Uint8Array() } as never));
    // Packed repeated with zeros, unpacked sint32, repeated bools.
    same(ShapesSchema, create(ShapesSchema, { ri32: [0, 0, -1], rs32: [0, -1], rb: [false], rdb: [-0, 0] } as never));
    // Map entries with zero keys and values are written whole.
    same(ShapesSchema, create(ShapesSchema, { msi: { "": 0n }, mim: { "0": create(InnerSchema) }, mbb: { false: new Uint8Array() } } as never));
  });

  it("writes large states as toBinary does (the buffer grows; lengths of 2 to 3 bytes move the nested bytes along)", () => {
    const big = new Uint8Array(300_000).map((_, i) => i % 251);
    const inner = create(InnerSchema, { name: "é".repeat(10_000), data: big.subarray(0, 20_000) });
    same(ShapesSchema, create(ShapesSchema, { by: big, inner, rinner: [inner, inner], s: "x".repeat(70_000), self: create(ShapesSchema, { inner }) } as never));
  });

  it("encodes the bank's Account (the writer's common case)", () => {
    for (const balance of [0n, 1n, -1n, 2n ** 63n - 1n]) same(AccountSchema, create(AccountSchema, { owner: "ann", balance, history: ["opened", ""] }));
  });

  it("keeps unknown fields, at the top and nested, after the known ones", () => {
    const inner = create(InnerSchema, { name: "in" });
    inner.$unknown = [{ no: 99, wireType: 0, data: new Uint8Array([5]) }];
    const m = create(ShapesSchema, { s: "x", inner, rinner: [inner] } as never);
    m.$unknown = [
      { no: 1000, wireType: 2, data: new Uint8Array([1, 7]) },
      { no: 3, wireType: 0, data: new Uint8Array([2]) },
    ];
    same(ShapesSchema, m);
  });

  it("falls back to toBinary for proto2, Struct fields and values it does not expect", () => {
    same(LegacySchema, create(LegacySchema, { s: "x" }));
    same(LegacySchema, create(LegacySchema, { a: 5 }));
    same(WithStructSchema, create(WithStructSchema, { st: { a: [1, { b: "c" }] }, n: 3 } as never));
    // A number in an int64 field, undefined in an implicit field, a string key that is no int32: toBinary's answer (or error).
    same(ShapesSchema, { ...create(ShapesSchema), i64: 5 } as unknown as Message);
    same(ShapesSchema, { ...create(ShapesSchema), s: undefined } as unknown as Message);
    same(ShapesSchema, { ...create(ShapesSchema), mim: { x: create(InnerSchema) } } as unknown as Message);
    same(ShapesSchema, { ...create(ShapesSchema), i32: 2 ** 40 } as unknown as Message);
    const self = create(ShapesSchema, { self: create(ShapesSchema, { self: create(ShapesSchema, { s: "deepest" }) }) } as never) as unknown as Loose;
    same(ShapesSchema, self as never);
  });
});
