import { create, fromJson, toJsonString, type DescMessage, type JsonReadOptions, type Message } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import { createMethodSerializationLookup, getJsonOptions, validateReadWriteMaxBytes } from "@connectrpc/connect/protocol";
import { describe, expect, it } from "vitest";
import { DepositRequestSchema, OpenRequestSchema, TransferRequestSchema } from "../../generated/bank/v1/account_pb.js";
import { JsonChildSchema, JsonRequestSchema, randomRequestJson, randomRequestText } from "../../test/fixtures/json-shapes.js";
import { ShapesSchema, randomShapes, randomSource } from "../../test/fixtures/message-shapes.js";
import { WatchRequestSchema } from "../../generated/cairn/v1/reactive_pb.js";
import { GetActorRequestSchema } from "../../generated/cairn/v1/actors_pb.js";
import { jsonReaderOptions, readJsonRequest, withJsonReader } from "./json-request-reader.js";
import { requestMessage } from "./request-message.js";

const LIMITS = validateReadWriteMaxBytes(1 << 20, undefined, undefined);

/** connect's JSON parser for a method taking `desc`, as fast-unary.ts makes it. */
function connectParser(desc: DescMessage, options: Partial<JsonReadOptions>): (bytes: Uint8Array) => Message {
  const method = { input: desc, output: desc } as Parameters<typeof createMethodSerializationLookup>[0];
  return createMethodSerializationLookup(method, undefined, options, LIMITS).getI(false).parse;
}

type Outcome = { message: Message } | { error: { code: number; message: string } };

/** What connect's JSON parser (protobuf-es fromJsonString) makes of the bytes: its message or its error. */
function connectOutcome(parse: (b: Uint8Array) => Message, bytes: Uint8Array): Outcome {
  try {
    return { message: parse(bytes) };
  } catch (e) {
    const error = ConnectError.from(e);
    return { error: { code: error.code, message: error.message } };
  }
}

/** A message's fields in their own order, with what toStrictEqual does not show (bigint and -0 spelled out). */
function spelled(m: unknown): string {
  return JSON.stringify(m, (_, v: unknown) => (typeof v === "bigint" ? `${v}n` : v instanceof Uint8Array ? `bytes:${Buffer.from(v).toString("hex")}` : Object.is(v, -0) ? "-0" : v));
}

/**
 * The reader's message is protobuf-es's (or it reads nothing), and the
 * parse that falls back on protobuf-es answers exactly as connect's does,
 * error code and message included. True when the reader read it.
 */
function same(desc: DescMessage, bytes: Uint8Array, options: Partial<JsonReadOptions> = { ignoreUnknownFields: false }): boolean {
  const connectParse = connectParser(desc, options);
  const expected = connectOutcome(connectParse, bytes);
  const read = readJsonRequest(desc, bytes, jsonReaderOptions(getJsonOptions(options)));
  if ("error" in expected) {
    expect(read, `${Buffer.from(bytes).toString()} is refused: ${expected.error.message}`).toBeUndefined();
  } else if (read !== undefined) {
    expect(read).toStrictEqual(expected.message);
    expect(spelled(read)).toBe(spelled(expected.message));
  }
  const got = connectOutcome(withJsonReader(desc, connectParse, LIMITS.readMaxBytes, getJsonOptions(options)), bytes);
  expect(got).toStrictEqual(expected);
  return read !== undefined;
}

const text = (s: string): Uint8Array => Buffer.from(s);

describe("readJsonRequest: protobuf-es fromJsonString's message, or none (then protobuf-es reads it)", () => {
  it("agrees with protobuf-es over 6,000 random JSON texts, valid and not, with unknown fields refused and ignored", () => {
    const rnd = randomSource(14);
    const counts = { read: 0, valid: 0, all: 0 };
    for (let i = 0; i < 6_000; i++) {
      const options = { ignoreUnknownFields: i % 2 === 0, ...(i % 7 === 0 ? { recursionLimit: 1 + (i % 4) } : {}) };
      const bytes = text(randomRequestText(rnd, randomRequestJson(rnd)));
      const valid = !("error" in connectOutcome(connectParser(JsonRequestSchema, options), bytes));
      if (same(JsonRequestSchema, bytes, options)) counts.read++;
      if (valid) counts.valid++;
      counts.all++;
    }
    // Both kinds are well represented, and the reader reads nearly every valid one.
    expect(counts.valid).toBeGreaterThan(counts.all / 5);
    expect(counts.valid).toBeLessThan(counts.all * 0.9);
    expect(counts.read).toBeGreaterThan(counts.valid * 0.95);
  });

  it("reads every message protobuf-es writes (toJsonString), by JSON and by proto names", () => {
    const rnd = randomSource(5);
    for (let i = 0; i < 300; i++) {
      const json = randomRequestJson(rnd);
      const parsed = connectOutcome(connectParser(JsonRequestSchema, { ignoreUnknownFields: true }), text(JSON.stringify(json) ?? "null"));
      if (!("message" in parsed)) continue;
      for (const useProtoFieldName of [false, true]) {
        const written = toJsonString(JsonRequestSchema, parsed.message, { useProtoFieldName });
        expect(same(JsonRequestSchema, text(written)), written).toBe(true);
      }
    }
  });

  it("reads the bank's requests (the writer bench's calls)", () => {
    expect(same(DepositRequestSchema, text('{"amount":"1"}'))).toBe(true);
    expect(same(DepositRequestSchema, text('{"amount":1}'))).toBe(true);
    expect(same(DepositRequestSchema, text("{}"))).toBe(true);
    expect(same(OpenRequestSchema, text('{"owner":"ann","initial":"100"}'))).toBe(true);
    expect(same(TransferRequestSchema, text('{"to":"acct-2","amount":"-5"}'))).toBe(true);
    for (const bad of ['{"amount":"x"}', '{"amount":1.5}', '{"amount":"9223372036854775808"}', '{"amount":true}', '{"amount":"1","amount":"2"}', '{"nope":1}', "[]", "null", "", "{"]) {
      expect(same(DepositRequestSchema, text(bad))).toBe(false);
    }
  });

  it("edge numbers: int32 and uint32 bounds, fractions, exponents, int64 as string or number, float range, NaN and Infinity", () => {
    const cases: Array<[string, unknown]> = [
      ["smallInt", 2147483647],
      ["smallInt", -2147483648],
      ["smallInt", 2147483648],
      ["smallInt", "1e2"],
      ["smallInt", "1.0"],
      ["smallInt", 1.5],
      ["smallInt", "0x10"],
      ["smallInt", " 1"],
      ["unSmall", 4294967295],
      ["unSmall", -1],
      ["unSmall", -0],
      ["bigInt", "-9223372036854775808"],
      ["bigInt", "-9223372036854775809"],
      ["bigInt", 9007199254740993],
      ["bigInt", " 7 "],
      ["unBig", "18446744073709551615"],
      ["unBig", "-1"],
      ["bigStr", "007"],
      ["bigStr", 12],
      ["realSingle", 3.4028234663852886e38],
      ["realSingle", 3.5e38],
      ["realSingle", "NaN"],
      ["realSingle", "-Infinity"],
      ["realDouble", "1e400"],
      ["realDouble", "Infinity"],
      ["realDouble", "-0"],
      ["listDouble", ["NaN", 1, "2"]],
      ["listInt", [1, null]],
      ["hue", 2147483648],
      ["hue", 7],
      ["hue", "HUE_GREEN"],
      ["listHue", ["HUE_GREEN", "HUE_RED"]],
    ];
    for (const [key, value] of cases) {
      for (const ignoreUnknownFields of [false, true]) same(JsonRequestSchema, text(JSON.stringify({ [key]: value })), { ignoreUnknownFields });
    }
    // Numbers JSON.stringify would not write as they are.
    for (const raw of ["1e2", "-0", "1E+2", "2147483647.0", "9223372036854775807", "1e-400", "1e400", "-1e400"]) {
      same(JsonRequestSchema, text(`{"smallInt":${raw}}`));
      same(JsonRequestSchema, text(`{"bigInt":${raw}}`));
      same(JsonRequestSchema, text(`{"realSingle":${raw}}`));
      same(JsonRequestSchema, text(`{"listDouble":[${raw}]}`));
    }
  });

  it("names, nulls, oneofs and duplicates as protobuf-es takes them", () => {
    const texts = [
      '{"small_int":1,"smallInt":2}',
      '{"small_int":null,"smallInt":2}',
      '{"text":"a","text":"b"}',
      '{"child":{"kids":[{"child_name":"a","childName":"b"}]}}',
      '{"child":{"kids":[{"bigN":"1","bigN":"1"}]}}',
      '{"unknown_field":{"a":1,"a":2}}',
      '{"unknown_field":[{"a":1},{"a":1}]}',
      '{"\\u0074ext":"a","text":"b"}',
      '{"pickText":"a","pickBig":"1"}',
      '{"pickText":null,"pickBig":"1"}',
      '{"pickChild":null,"pickBig":"1"}',
      '{"pickHue":null,"pickBig":"1"}',
      '{"pickHue":"HUE_GREEN"}',
      '{"pickText":""}',
      '{"maybeInt":0,"maybeHue":"HUE_UNSPECIFIED"}',
      '{"maybeInt":null}',
      '{"child":null,"self":{"self":{"text":"deep"}}}',
      '{"listChild":[null]}',
      '{"listChild":[{}],"listText":null}',
      '{"blob":"-_8","listBlob":["AAE=","AAE","+/8="]}',
      '{"text":"\\ud800"}',
      '{"[jsonshapes.ext]":1}',
      '{"__proto__":{"a":1}}',
      '\ufeff{"text":"bom"}',
      '{"text":"a:b\\"c:","flag":true}',
    ];
    for (const t of texts) for (const ignoreUnknownFields of [false, true]) same(JsonRequestSchema, text(t), { ignoreUnknownFields });
    // Invalid UTF-8 decodes to replacement characters on both paths.
    same(JsonRequestSchema, Buffer.concat([text('{"text":"'), Buffer.from([0xff, 0xc3]), text('"}')]));
  });

  it("depth: protobuf-es's recursion limit, counted the same way", () => {
    let deep: unknown = {};
    for (let i = 0; i < 120; i++) deep = { self: deep };
    const bytes = text(JSON.stringify(deep));
    expect(same(JsonRequestSchema, bytes)).toBe(false);
    same(JsonRequestSchema, bytes, { recursionLimit: 121 });
    same(JsonRequestSchema, text('{"self":{"self":{}}}'), { recursionLimit: 3 });
    same(JsonRequestSchema, text('{"self":{"self":{}}}'), { recursionLimit: 2 });
    same(JsonChildSchema, text('{"kids":[{"kids":[{}]}]}'), { recursionLimit: 2 });
  });

  it("leaves types it does not cover (maps, wrappers, Struct, proto2) to protobuf-es, which then answers as before", () => {
    const rnd = randomSource(3);
    for (let i = 0; i < 50; i++) {
      const written = toJsonString(ShapesSchema, randomShapes(rnd));
      expect(same(ShapesSchema, text(written))).toBe(false);
    }
    expect(same(ShapesSchema, text("{}"))).toBe(false);
    expect(readJsonRequest(JsonRequestSchema, text("{}"), jsonReaderOptions(undefined))).toStrictEqual(create(JsonRequestSchema));
  });

  it("requestMessage (the forwarding layer's read of a task or actor call) reads JSON as protobuf-es fromJson on JSON.parse did", async () => {
    const bodies = [
      '{"stateType":"bank.v1.Account","actorId":"a"}',
      '{"state_type":"bank.v1.Account","actor_id":"a","unknown":{"x":1}}',
      // Duplicate keys: JSON.parse keeps the last, and fromJson then reads it (the reader leaves it to fromJson).
      '{"actorId":"a","actorId":"b"}',
      '{"actorId":"a","actor_id":"b"}',
      '{"actorId":1}',
      '\ufeff{"actorId":"bom"}',
      '{"method":"Balance","request":"AAEC","stateType":"t"}',
      "[]",
      "{",
    ];
    for (const schema of [GetActorRequestSchema, WatchRequestSchema]) {
      for (const body of bodies) {
        let expected: Message | undefined;
        try {
          expected = fromJson(schema, JSON.parse(body.replace(/^\ufeff/, "")), { ignoreUnknownFields: true });
        } catch {
          expected = undefined;
        }
        const framed = Buffer.concat([Buffer.from([0, 0, 0, 0, Buffer.byteLength(body)]), text(body)]);
        expect(await requestMessage(schema, "application/json", undefined, text(body), 1 << 20), body).toStrictEqual(expected);
        expect(await requestMessage(schema, "application/connect+json", undefined, framed, 1 << 20), body).toStrictEqual(expected);
      }
    }
  });
});
