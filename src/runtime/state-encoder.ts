import { protoInt64, ScalarType, toBinary, type DescField, type DescMessage, type Message } from "@bufbuild/protobuf";
import { WireType } from "@bufbuild/protobuf/wire";
import { ProtoWriter } from "./proto-writer.js";
import { isWrapperDesc } from "@bufbuild/protobuf/wkt";
import { PerMessageType } from "./per-message-type.js";

type Fields = Record<string, unknown>;
/** Writes one field of a message, if set. */
type WriteField = (w: ProtoWriter, m: Fields) => void;
/** Writes one scalar value (no tag). */
type WriteScalar = (w: ProtoWriter, v: never) => unknown;

/** A message type's encoder: its field writers in field-number order (toBinary's order). */
type Plan = readonly WriteField[];

/** Per message type: its plan, or null where `toBinary` encodes it (see `makePlan`). */
const plans = new PerMessageType<Plan>((desc) => makePlan(desc));

const EDITION_PROTO3 = 999;

/** Thrown inside an encode to hand the message to toBinary (a value it would write its own way, or refuse with its own error). */
const FALL_BACK = Symbol("fall back to toBinary");

/**
 * A state message's bytes, exactly as protobuf-es `toBinary` writes them,
 * by a plan of field writers made once per type, into one buffer
 * (proto-writer.ts): toBinary walks the message through `reflect` field
 * by field and writes through BinaryWriter's chunks.
 *
 * Covered: proto3 messages of any scalar, enum, nested or recursive
 * message, repeated (packed or not), map, oneof, proto3 `optional` and
 * wrapper fields, with unknown fields written after the known ones as
 * toBinary writes them. Anything else (proto2 and editions files, Struct
 * fields, group encoding), and any value the plan does not expect, goes
 * to `toBinary`, which then also gives its own errors.
 */
export function encodeState(desc: DescMessage, message: Message): Uint8Array {
  const plan = plans.of(desc);
  if (plan === null) return toBinary(desc, message);
  try {
    const w = new ProtoWriter();
    writeFields(plan, w, message as unknown as Fields);
    return w.finish();
  } catch {
    return toBinary(desc, message);
  }
}

function writeFields(plan: Plan, w: ProtoWriter, m: Fields): void {
  for (let i = 0; i < plan.length; i++) plan[i]!(w, m);
  const unknown = (m as { $unknown?: Message["$unknown"] }).$unknown;
  if (unknown) for (const { no, wireType, data } of unknown) w.varint32(((no << 3) | wireType) >>> 0).raw(data);
}

function makePlan(desc: DescMessage): Plan | null {
  if (desc.file.edition !== EDITION_PROTO3) return null;
  const plan: WriteField[] = [];
  for (const field of [...desc.fields].sort((a, b) => a.number - b.number)) {
    const write = fieldWriter(field);
    if (write === null) return null;
    plan.push(write);
  }
  return plan;
}

function wireTypeOf(scalar: ScalarType): WireType {
  switch (scalar) {
    case ScalarType.BYTES:
    case ScalarType.STRING:
      return WireType.LengthDelimited;
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return WireType.Bit64;
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
    case ScalarType.FLOAT:
      return WireType.Bit32;
    default:
      return WireType.Varint;
  }
}

const SCALAR_WRITERS: Record<ScalarType, WriteScalar> = {
  [ScalarType.DOUBLE]: (w, v: number) => w.double(v),
  [ScalarType.FLOAT]: (w, v: number) => w.float(v),
  [ScalarType.INT64]: (w, v: bigint) => w.int64(v),
  [ScalarType.UINT64]: (w, v: bigint) => w.uint64(v),
  [ScalarType.INT32]: (w, v: number) => w.int32(v),
  [ScalarType.FIXED64]: (w, v: bigint) => w.fixed64(v),
  [ScalarType.FIXED32]: (w, v: number) => w.fixed32(v),
  [ScalarType.BOOL]: (w, v: boolean) => w.bool(v),
  [ScalarType.STRING]: (w, v: string) => w.string(v),
  [ScalarType.BYTES]: (w, v: Uint8Array) => w.bytes(v),
  [ScalarType.UINT32]: (w, v: number) => w.uint32(v),
  [ScalarType.SFIXED32]: (w, v: number) => w.sfixed32(v),
  [ScalarType.SFIXED64]: (w, v: bigint) => w.sfixed64(v),
  [ScalarType.SINT32]: (w, v: number) => w.sint32(v),
  [ScalarType.SINT64]: (w, v: bigint) => w.sint64(v),
};

/** A scalar writer that refuses what toBinary would convert or reject (undefined, a string where a bigint goes, ...). */
function scalarWriter(scalar: ScalarType): (w: ProtoWriter, v: unknown) => void {
  const write = SCALAR_WRITERS[scalar] as (w: ProtoWriter, v: unknown) => unknown;
  const expected = scalar === ScalarType.STRING ? "string" : scalar === ScalarType.BOOL ? "boolean" : undefined;
  if (scalar === ScalarType.BYTES) {
    return (w, v) => {
      if (!(v instanceof Uint8Array)) throw FALL_BACK;
      write(w, v);
    };
  }
  const is64 = scalar === ScalarType.INT64 || scalar === ScalarType.UINT64 || scalar === ScalarType.FIXED64 || scalar === ScalarType.SFIXED64 || scalar === ScalarType.SINT64;
  const type = expected ?? (is64 ? "bigint" : "number");
  return (w, v) => {
    if (typeof v !== type) throw FALL_BACK;
    write(w, v);
  };
}

/** Implicit presence: the zero value is not written (-0 is, as toBinary writes it). */
function isZero(scalar: ScalarType, v: unknown): boolean {
  switch (scalar) {
    case ScalarType.BOOL:
      return v === false;
    case ScalarType.STRING:
      return v === "";
    case ScalarType.BYTES:
      return v instanceof Uint8Array && v.byteLength === 0;
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return Object.is(v, 0);
    default:
      return v === 0 || v === 0n;
  }
}

/** A message value written length-delimited under `tag`, by its own type's plan (looked up per call: a type may contain itself). */
function messageWriter(desc: DescMessage): ((w: ProtoWriter, v: unknown) => void) | null {
  if (desc.typeName === "google.protobuf.Struct" || desc.file.edition !== EDITION_PROTO3) return null;
  return (w, v) => {
    const plan = plans.peek(desc);
    if (!plan || typeof v !== "object" || v === null) throw FALL_BACK;
    w.fork();
    writeFields(plan, w, v as Fields);
    w.join();
  };
}

/** The writer of a value of `field` (a singular value, a list's element or a map's value), with its wire type; null: not covered. */
function valueWriter(field: DescField, singular: boolean): { write: (w: ProtoWriter, v: unknown) => void; wire: WireType } | null {
  const nested = field.message;
  if (nested) {
    if (field.fieldKind === "message" && field.delimitedEncoding) return null;
    // Planned before any message of this type is written; a recursive type meets its own entry (null) here, and `messageWriter` looks it up at run time.
    plans.of(nested);
    if (singular && !field.oneof && isWrapperDesc(nested)) {
      // The wrapped value itself: written as a wrapper message holding it (unless zero).
      const inner = nested.fields[0]!.scalar!;
      const write = scalarWriter(inner);
      const tag = (1 << 3) | wireTypeOf(inner);
      return {
        wire: WireType.LengthDelimited,
        write: (w, v) => {
          w.fork();
          if (!isZero(inner, v)) write(w.varint32(tag), v);
          w.join();
        },
      };
    }
    const write = messageWriter(nested);
    return write && { write, wire: WireType.LengthDelimited };
  }
  const scalar = field.scalar ?? ScalarType.INT32; // enums are int32
  return { write: scalarWriter(scalar), wire: wireTypeOf(scalar) };
}

function fieldWriter(field: DescField): WriteField | null {
  const name = field.localName;
  const tagOf = (wire: WireType) => ((field.number << 3) | wire) >>> 0;
  switch (field.fieldKind) {
    case "list": {
      const item = valueWriter(field, false);
      if (item === null) return null;
      const { write } = item;
      if (field.packed) {
        const tag = tagOf(WireType.LengthDelimited);
        return (w, m) => {
          const list = m[name] as unknown[];
          if (list.length === 0) return;
          w.varint32(tag).fork();
          for (let i = 0; i < list.length; i++) write(w, list[i]);
          w.join();
        };
      }
      const tag = tagOf(item.wire);
      return (w, m) => {
        const list = m[name] as unknown[];
        for (let i = 0; i < list.length; i++) write(w.varint32(tag), list[i]);
      };
    }
    case "map": {
      const value = valueWriter(field, false);
      if (value === null) return null;
      const keyType = field.mapKey;
      const writeKey = scalarWriter(keyType);
      const keyTag = (1 << 3) | wireTypeOf(keyType);
      const valueTag = (2 << 3) | value.wire;
      const tag = tagOf(WireType.LengthDelimited);
      return (w, m) => {
        const entries = m[name] as Record<string, unknown>;
        for (const key of Object.keys(entries)) {
          w.varint32(tag).fork();
          writeKey(w.varint32(keyTag), mapKey(key, keyType));
          value.write(w.varint32(valueTag), entries[key]);
          w.join();
        }
      };
    }
    default: {
      const value = valueWriter(field, true);
      if (value === null) return null;
      const { write } = value;
      const tag = tagOf(value.wire);
      const oneof = field.oneof;
      if (oneof) {
        const group = oneof.localName;
        return (w, m) => {
          const selected = m[group] as { case: string | undefined; value?: unknown };
          if (selected.case === name) write(w.varint32(tag), selected.value);
        };
      }
      // Explicit presence (messages, proto3 `optional`): written when there.
      if (field.fieldKind === "message" || field.presence !== IMPLICIT) {
        return (w, m) => {
          const v = m[name];
          if (v !== undefined) write(w.varint32(tag), v);
        };
      }
      const scalar = field.scalar ?? ScalarType.INT32;
      const zeroEnum = field.fieldKind === "enum" ? field.enum.values[0]!.number : undefined;
      return (w, m) => {
        const v = m[name];
        if (v === undefined) throw FALL_BACK;
        if (zeroEnum !== undefined ? v === zeroEnum : isZero(scalar, v)) return;
        write(w.varint32(tag), v);
      };
    }
  }
}

const IMPLICIT = 2;

/** A map key as toBinary converts it from its property name (mapKeyToReflect), or the name itself when it does not parse (then refused). */
function mapKey(key: string, type: ScalarType): unknown {
  switch (type) {
    case ScalarType.STRING:
      return key;
    case ScalarType.BOOL:
      return key === "true" ? true : key === "false" ? false : key;
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return protoInt64.parse(key);
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return protoInt64.uParse(key);
    default: {
      const n = Number.parseInt(key);
      return Number.isFinite(n) ? n : key;
    }
  }
}
