import { describe, expect, it } from "vitest";
import { decodeMemo, encodeMemo, MemoValidationError, parseJson, stringifyJson, type StandardSchema } from "./memo-codec.js";

const roundTrip = (value: unknown) => parseJson(stringifyJson(value));

describe("the default JSON memo codec", () => {
  it("round-trips plain JSON values", () => {
    for (const v of [0, -1.5, "text", true, false, null, [1, "a", null], { a: { b: [1, 2] } }]) {
      expect(roundTrip(v)).toEqual(v);
    }
  });

  it("round-trips BigInt beyond 2^53, at any depth", () => {
    const big = 2n ** 70n + 1n;
    expect(roundTrip(big)).toBe(big);
    expect(roundTrip({ n: [-big] })).toEqual({ n: [-big] });
  });

  it("round-trips Uint8Array byte for byte, empty included", () => {
    const bytes = new Uint8Array([0, 1, 127, 128, 255]);
    const back = roundTrip({ bytes, empty: new Uint8Array(0) }) as { bytes: Uint8Array; empty: Uint8Array };
    expect(back.bytes).toBeInstanceOf(Uint8Array);
    expect([...back.bytes]).toEqual([...bytes]);
    expect(back.empty.length).toBe(0);
  });

  it("round-trips undefined at the top", () => {
    expect(stringifyJson(undefined)).toBe('{"$undefined":true}');
    expect(roundTrip(undefined)).toBeUndefined();
  });

  it("leaves objects that only look like tags alone when they have other keys", () => {
    const v = { $bigint: "5", other: 1 };
    expect(roundTrip(v)).toEqual(v);
    expect(roundTrip({ $bigint: 5 })).toEqual({ $bigint: 5 });
  });

  it("refuses malformed text", () => {
    expect(() => parseJson("{")).toThrow(SyntaxError);
  });
});

describe("encodeMemo / decodeMemo", () => {
  it("use the caller's codec when given", async () => {
    const opts = { stringify: (d: Date) => String(d.getTime()), parse: (t: string) => new Date(Number(t)) };
    const text = encodeMemo(new Date(42), opts);
    expect(text).toBe("42");
    expect((await decodeMemo(text, opts, "when")).getTime()).toBe(42);
  });

  it("check the value on the way back with validate()", async () => {
    const isNumber = (v: unknown): v is number => typeof v === "number";
    expect(await decodeMemo("7", { validate: isNumber }, "n")).toBe(7);
    const err = await decodeMemo('"7"', { validate: isNumber }, "n").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MemoValidationError);
    expect((err as Error).message).toContain('step "n" failed validate()');
  });

  it("check it with a Standard Schema, sync or async, and return the schema's value", async () => {
    const positive = (async: boolean): StandardSchema<number> => ({
      "~standard": {
        version: 1,
        vendor: "spec",
        validate: (v) => {
          const r = typeof v === "number" && v > 0 ? { value: v * 10 } : { issues: [{ message: "not positive" }, { message: "really" }] };
          return async ? Promise.resolve(r) : r;
        },
      },
    });
    for (const async of [false, true]) {
      expect(await decodeMemo("2", { schema: positive(async) }, "s")).toBe(20);
      await expect(decodeMemo("-2", { schema: positive(async) }, "s")).rejects.toThrow(
        'step "s" failed its schema: not positive; really',
      );
    }
  });
});
