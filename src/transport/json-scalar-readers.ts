import { protoInt64, ScalarType } from "@bufbuild/protobuf";
import { base64Decode, FLOAT32_MAX, FLOAT32_MIN, getTextEncoding, INT32_MAX, INT32_MIN, UINT32_MAX } from "@bufbuild/protobuf/wire";

/**
 * The JSON request reader's scalars (json-request-reader.ts): each takes
 * what protobuf-es `scalarFromJson` converts and its reflect API's field
 * check then accepts, gives the same value, and throws FALL_BACK for
 * anything else (protobuf-es then gives its own error).
 */

/** Thrown where the reader leaves the input to protobuf-es. */
export const FALL_BACK = Symbol("fall back to protobuf-es");

export type ReadScalar = (json: unknown) => unknown;

/** A scalar as protobuf-es `scalarFromJson` converts it and the reflect API's check accepts it. */
export function scalarReader(scalar: ScalarType, longAsString: boolean): ReadScalar {
  switch (scalar) {
    case ScalarType.DOUBLE:
      return readDouble;
    case ScalarType.FLOAT:
      return readFloat;
    case ScalarType.INT32:
    case ScalarType.SFIXED32:
    case ScalarType.SINT32:
      return readInt32;
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return readUint32;
    case ScalarType.BOOL:
      return readBool;
    case ScalarType.STRING:
      return readString;
    case ScalarType.BYTES:
      return readBytes;
    case ScalarType.INT64:
    case ScalarType.SFIXED64:
    case ScalarType.SINT64:
      return longAsString ? (json) => int64String(json, false) : (json) => int64Of(json, false);
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return longAsString ? (json) => int64String(json, true) : (json) => int64Of(json, true);
  }
}

function readDouble(json: unknown): number {
  if (json === "NaN") return Number.NaN;
  if (json === "Infinity") return Number.POSITIVE_INFINITY;
  if (json === "-Infinity") return Number.NEGATIVE_INFINITY;
  if (typeof json === "number") {
    if (Number.isFinite(json)) return json;
  } else if (typeof json === "string" && json !== "" && json.trim().length === json.length) {
    const n = Number(json);
    if (Number.isFinite(n)) return n;
  }
  throw FALL_BACK;
}

function readFloat(json: unknown): number {
  const n = readDouble(json);
  // NaN and the infinities are floats too; finite doubles beyond float's range are refused.
  if (Number.isFinite(n) && (n > FLOAT32_MAX || n < FLOAT32_MIN)) throw FALL_BACK;
  return n;
}

/** A 32-bit integer: a number, or a string that is one ("1e2", "0x10" and "1.0" too, as `Number` reads them). */
function int32Of(json: unknown): number {
  let n = json;
  if (typeof json === "string" && json !== "" && json.trim().length === json.length) n = Number(json);
  if (typeof n !== "number" || !Number.isInteger(n)) throw FALL_BACK;
  return n;
}

function readInt32(json: unknown): number {
  const n = int32Of(json);
  if (n > INT32_MAX || n < INT32_MIN) throw FALL_BACK;
  return n;
}

function readUint32(json: unknown): number {
  const n = int32Of(json);
  if (n > UINT32_MAX || n < 0) throw FALL_BACK;
  return n;
}

function readBool(json: unknown): boolean {
  if (typeof json !== "boolean") throw FALL_BACK;
  return json;
}

const SURROGATE = /[\uD800-\uDFFF]/;

function readString(json: unknown): string {
  if (typeof json !== "string") throw FALL_BACK;
  // A lone surrogate is not UTF-8: protobuf-es's own check decides (only strings with surrogates pay for it).
  if (SURROGATE.test(json) && !getTextEncoding().checkUtf8(json)) throw FALL_BACK;
  return json;
}

function readBytes(json: unknown): Uint8Array {
  if (typeof json !== "string") throw FALL_BACK;
  return json === "" ? new Uint8Array(0) : base64Decode(json);
}

/** protobuf-es's own int64 parse (a number or a non-empty string; it throws out of range). */
function int64Of(json: unknown, unsigned: boolean): bigint | string {
  if (typeof json !== "number" && (typeof json !== "string" || json === "")) throw FALL_BACK;
  return unsigned ? protoInt64.uParse(json) : protoInt64.parse(json);
}

/** A `jstype = JS_STRING` field keeps the JSON value's own spelling once it checks (protobuf-es's `longToLocal`). */
function int64String(json: unknown, unsigned: boolean): string {
  int64Of(json, unsigned);
  return String(json);
}
