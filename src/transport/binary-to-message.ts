import { create, fromBinary, ScalarType, type DescField, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";

type Decode<S extends DescMessage> = (bytes: Uint8Array) => MessageShape<S>;
type Fields = Record<string, unknown>;

/** The scalar types read here, with the wire type each comes in (a packed list aside). */
const SCALARS = new Map<ScalarType, WireType>([
  [ScalarType.STRING, WireType.LengthDelimited],
  [ScalarType.BYTES, WireType.LengthDelimited],
  [ScalarType.BOOL, WireType.Varint],
  [ScalarType.UINT32, WireType.Varint],
  [ScalarType.INT32, WireType.Varint],
  [ScalarType.UINT64, WireType.Varint],
  [ScalarType.INT64, WireType.Varint],
  [ScalarType.DOUBLE, WireType.Bit64],
]);

const decoders = new WeakMap<DescMessage, Decode<DescMessage>>();

/**
 * A decoder of `schema`'s protobuf binary: what `fromBinary` gives for
 * the messages our peers send (the same fields and values; unknown fields
 * are skipped, not kept), without its reflection. Peer calls and answers
 * are decoded several times per transaction across nodes, and protobuf-es
 * building a PeerCall (each of its fields set through reflection) showed as
 * the largest protobuf item of a transfer's profile. It reads strings,
 * bytes, bool, 32- and 64-bit integers, doubles, nested and repeated
 * messages, repeated integers and maps of strings; a schema with any other
 * field gets `fromBinary` itself. Malformed input throws, as fromBinary's.
 */
export function binaryDecoder<S extends DescMessage>(schema: S): Decode<S> {
  let decode = decoders.get(schema);
  if (!decode) {
    decode = readable(schema, new Set()) ? leanDecoder(schema) : (bytes) => fromBinary(schema, bytes);
    decoders.set(schema, decode);
  }
  return decode as Decode<S>;
}

function readable(schema: DescMessage, seen: Set<DescMessage>): boolean {
  if (seen.has(schema)) return true;
  seen.add(schema);
  return schema.fields.every((f) => {
    // A oneof's fields live under the oneof's name: fromBinary's.
    if (f.oneof) return false;
    switch (f.fieldKind) {
      case "scalar":
        return SCALARS.has(f.scalar);
      case "message":
        return !f.delimitedEncoding && readable(f.message, seen);
      case "list":
        if (f.listKind === "message") return !f.delimitedEncoding && readable(f.message, seen);
        return f.listKind === "scalar" && SCALARS.get(f.scalar) !== WireType.LengthDelimited;
      case "map":
        return f.mapKey === ScalarType.STRING && f.mapKind === "scalar" && f.scalar === ScalarType.STRING;
      default:
        return false;
    }
  });
}

function leanDecoder(schema: DescMessage): Decode<DescMessage> {
  const byNumber = new Map(schema.fields.map((f) => [f.number, f]));
  // A zero message to copy; lists and maps get their own.
  const zero = create(schema) as unknown as Fields;
  const fresh = schema.fields.filter((f) => f.fieldKind === "list" || f.fieldKind === "map");
  return (bytes) => {
    const m: Fields = { ...zero };
    for (const f of fresh) m[f.localName] = f.fieldKind === "list" ? [] : {};
    const reader = new BinaryReader(bytes);
    while (reader.pos < reader.len) {
      const [no, wireType] = reader.tag();
      const field = byNumber.get(no);
      if (!field) {
        reader.skip(wireType, no);
        continue;
      }
      readField(reader, field, wireType, m);
    }
    return m as unknown as MessageShape<DescMessage>;
  };
}

function readField(reader: BinaryReader, field: DescField, wireType: WireType, m: Fields): void {
  switch (field.fieldKind) {
    case "scalar":
      m[field.localName] = scalar(reader, field.scalar, wireType);
      return;
    case "message":
      expectWire(wireType, WireType.LengthDelimited);
      m[field.localName] = binaryDecoder(field.message)(reader.bytes());
      return;
    case "list": {
      const list = m[field.localName] as unknown[];
      if (field.listKind === "message") {
        expectWire(wireType, WireType.LengthDelimited);
        list.push(binaryDecoder(field.message)(reader.bytes()));
      } else if (field.listKind === "scalar" && wireType === WireType.LengthDelimited) {
        // Packed, as proto3 writes repeated numbers.
        const end = reader.uint32() + reader.pos;
        if (end > reader.len) throw new Error("premature EOF");
        while (reader.pos < end) list.push(scalar(reader, field.scalar, SCALARS.get(field.scalar)!));
      } else if (field.listKind === "scalar") {
        list.push(scalar(reader, field.scalar, wireType));
      }
      return;
    }
    case "map": {
      expectWire(wireType, WireType.LengthDelimited);
      const entry = new BinaryReader(reader.bytes());
      let key = "";
      let value = "";
      while (entry.pos < entry.len) {
        const [no, type] = entry.tag();
        if (no === 1) key = scalar(entry, ScalarType.STRING, type) as string;
        else if (no === 2) value = scalar(entry, ScalarType.STRING, type) as string;
        else entry.skip(type, no);
      }
      (m[field.localName] as Record<string, string>)[key] = value;
      return;
    }
    default:
      throw new Error(`${field.toString()} cannot be read here`);
  }
}

function scalar(reader: BinaryReader, type: ScalarType, wireType: WireType): unknown {
  expectWire(wireType, SCALARS.get(type)!);
  switch (type) {
    case ScalarType.STRING:
      return reader.string();
    case ScalarType.BYTES:
      return reader.bytes();
    case ScalarType.BOOL:
      return reader.bool();
    case ScalarType.UINT32:
      return reader.uint32();
    case ScalarType.INT32:
      return reader.int32();
    case ScalarType.UINT64:
      return reader.uint64();
    case ScalarType.INT64:
      return reader.int64();
    case ScalarType.DOUBLE:
      return reader.double();
    default:
      throw new Error(`scalar type ${type} cannot be read here`);
  }
}

function expectWire(got: WireType, want: WireType): void {
  if (got !== want) throw new Error(`wire type ${got} where ${want} was expected`);
}
