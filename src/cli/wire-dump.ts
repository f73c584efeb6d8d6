import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";

/**
 * A schemaless reading of protobuf bytes, by field number: the CLI talks to
 * any application without its .proto files, and "field 1 is 'echo w'" is
 * more useful than a byte count. Undefined when the bytes are not a message.
 */
export function dumpMessage(bytes: Uint8Array, depth = 0): string | undefined {
  if (depth > 16) return undefined;
  try {
    const reader = new BinaryReader(bytes);
    const fields: string[] = [];
    while (reader.pos < reader.len) {
      const [no, wireType] = reader.tag();
      if (no < 1) return undefined;
      switch (wireType) {
        case WireType.Varint:
          fields.push(`${no}: ${reader.uint64()}`);
          break;
        case WireType.Bit64:
          fields.push(`${no}: ${reader.fixed64()}`);
          break;
        case WireType.Bit32:
          fields.push(`${no}: ${reader.fixed32()}`);
          break;
        case WireType.LengthDelimited:
          fields.push(`${no}: ${dumpBytes(reader.bytes(), depth)}`);
          break;
        default:
          return undefined; // groups are long gone; anything else is not a message
      }
    }
    return fields.length === 0 ? "{}" : `{ ${fields.join(", ")} }`;
  } catch {
    return undefined;
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
// Control characters other than tab and newlines: such bytes are not text.
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/** A length-delimited field: text if it reads as text, else a message, else hex. */
function dumpBytes(bytes: Uint8Array, depth: number): string {
  try {
    const text = utf8.decode(bytes);
    if (!CONTROL.test(text)) return JSON.stringify(text);
  } catch {
    // not UTF-8
  }
  return dumpMessage(bytes, depth + 1) ?? `0x${Buffer.from(bytes).toString("hex")}`;
}

/** Bytes as far as they can be read without the application's schema. */
export function byFieldNumber(bytes: Uint8Array): string {
  const dump = dumpMessage(bytes);
  const size = `${bytes.length} byte${bytes.length === 1 ? "" : "s"}`;
  return dump === undefined ? size : `${size}, fields by number: ${dump}`;
}
