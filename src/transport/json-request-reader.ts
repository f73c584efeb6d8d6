import { create, type DescField, type DescMessage, type JsonReadOptions, type MessageShape } from "@bufbuild/protobuf";
import { INT32_MAX, INT32_MIN } from "@bufbuild/protobuf/wire";
import { PerMessageType } from "../runtime/per-message-type.js";
import { FALL_BACK, scalarReader } from "./json-scalar-readers.js";

/**
 * A request message from JSON bytes, exactly as protobuf-es
 * `fromJsonString` (connect's JSON parser) reads it, by a reader made once
 * per message type: `fromJsonString` scans the text for duplicate keys
 * with a Set per object, walks `Object.entries` through `reflect`, and
 * checks every value through the reflect API's field checks.
 *
 * Undefined whenever the reader is not sure: a type it does not cover,
 * any value protobuf-es would refuse or that the reader does not expect,
 * duplicate keys. The caller then asks protobuf-es, which gives its own
 * result or its own error: errors are never the reader's.
 *
 * Covered: proto3 messages of up to 32 fields, of singular, repeated,
 * oneof and proto3 `optional` scalars, enums and messages (recursive
 * too). Maps, google.protobuf types (wrappers, Struct, Timestamp, Any...),
 * extensions and other editions go to protobuf-es.
 */
export function readJsonRequest<Desc extends DescMessage>(desc: Desc, bytes: Uint8Array, options: JsonReaderOptions): MessageShape<Desc> | undefined {
  const plan = plans.of(desc);
  if (plan === null) return undefined;
  try {
    const text = utf8.decode(bytes);
    const ctx: Context = { ignoreUnknownFields: options.ignoreUnknownFields, recursionLimit: options.recursionLimit, depth: 0, members: 0 };
    const message = readMessage(plan, JSON.parse(text), ctx);
    // JSON.parse keeps the last of duplicate keys: fewer keys read than the text has means duplicates, which protobuf-es refuses.
    if (ctx.members !== memberCount(text)) return undefined;
    return message as MessageShape<Desc>;
  } catch {
    return undefined;
  }
}

/** The read options protobuf-es applies (its defaults: unknown fields refused, 100 levels deep). */
export interface JsonReaderOptions {
  readonly ignoreUnknownFields: boolean;
  readonly recursionLimit: number;
}

/** protobuf-es's read context from `options`, spread as `fromJson` spreads it (an explicit undefined limit means none). */
export function jsonReaderOptions(options: Partial<JsonReadOptions> | undefined): JsonReaderOptions {
  const o = { ignoreUnknownFields: false, recursionLimit: 100, ...options };
  return { ignoreUnknownFields: o.ignoreUnknownFields, recursionLimit: o.recursionLimit };
}

/** connect's decoder settings (replacement characters, a leading BOM dropped), made once instead of per call. */
const utf8 = new TextDecoder();

type Fields = Record<string, unknown>;

interface Context {
  readonly ignoreUnknownFields: boolean;
  readonly recursionLimit: number;
  depth: number;
  /** Object members read, to compare with the text's (see memberCount). */
  members: number;
}

/** Reads one field's (non-null, unless noted) JSON value into the message. */
type ReadField = (m: Fields, json: unknown, ctx: Context) => void;

interface Entry {
  readonly read: ReadField;
  /** The field's bit: set by one key only (its proto name or its JSON name). */
  readonly bit: number;
  /** Its oneof's bit, 0 outside a oneof: one field of a oneof only. */
  readonly oneofBit: number;
  /** A null scalar in a oneof is skipped before the oneof counts it (as protobuf-es does). */
  readonly nullSkipsOneof: boolean;
}

interface Plan {
  /** A new zero message, as protobuf-es `create` makes it. */
  readonly zero: () => Fields;
  /** By proto name and by JSON name, as protobuf-es looks fields up. */
  readonly keys: Map<string, Entry>;
}

/** An enum name it does not know, with unknown fields ignored: the field is left unset. */
const IGNORED = Symbol("ignored enum value");

const EDITION_PROTO3 = 999;
const MAX_FIELDS = 32;

/** Per message type: its plan, or null where protobuf-es reads it. */
const plans = new PerMessageType<Plan>((desc) => makePlan(desc));

function makePlan(desc: DescMessage): Plan | null {
  if (desc.file.edition !== EDITION_PROTO3 || isWellKnown(desc) || desc.fields.length > MAX_FIELDS || desc.oneofs.length > MAX_FIELDS) return null;
  const keys = new Map<string, Entry>();
  for (let i = 0; i < desc.fields.length; i++) {
    const field = desc.fields[i]!;
    const read = fieldReader(field);
    if (read === null) return null;
    const entry: Entry = {
      read,
      bit: 1 << i,
      oneofBit: field.oneof ? 1 << desc.oneofs.indexOf(field.oneof) : 0,
      nullSkipsOneof: field.oneof !== undefined && field.fieldKind === "scalar",
    };
    keys.set(field.name, entry).set(field.jsonName, entry);
  }
  return { zero: zeroMessage(desc), keys };
}

/**
 * `create(desc)`, made faster: one made now is the template, each call
 * copies its members in their order (new arrays and oneof objects, its
 * zero scalars as they are). `create` walks the members and their
 * descriptors each time.
 */
function zeroMessage(desc: DescMessage): () => Fields {
  const template = create(desc) as unknown as Fields;
  const keys = Object.keys(template);
  const values = keys.map((k) => template[k]);
  const fresh = values.map((v): (() => unknown) | undefined => {
    if (Array.isArray(v)) return () => [];
    if (v instanceof Uint8Array) return () => new Uint8Array(0);
    if (typeof v === "object" && v !== null) return Object.keys(v).length === 0 ? () => ({}) : () => ({ case: undefined });
    return undefined;
  });
  return () => {
    const m: Fields = {};
    for (let i = 0; i < keys.length; i++) m[keys[i]!] = fresh[i] === undefined ? values[i] : fresh[i]!();
    return m;
  };
}

/** google.protobuf types have JSON forms of their own (and Value and NullValue take null as a value). */
function isWellKnown(type: { readonly typeName: string }): boolean {
  return type.typeName.startsWith("google.protobuf.");
}

function readMessage(plan: Plan, json: unknown, ctx: Context): Fields {
  if (++ctx.depth > ctx.recursionLimit) throw FALL_BACK;
  if (json === null || typeof json !== "object" || Array.isArray(json)) throw FALL_BACK;
  const m = plan.zero();
  const keys = Object.keys(json);
  ctx.members += keys.length;
  let seen = 0;
  let oneofs = 0;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const value = (json as Fields)[key];
    const entry = plan.keys.get(key);
    if (entry === undefined) {
      // An extension's key, or an unknown field protobuf-es refuses.
      if ((key.startsWith("[") && key.endsWith("]")) || !ctx.ignoreUnknownFields) throw FALL_BACK;
      ctx.members += membersIn(value);
      continue;
    }
    if (seen & entry.bit) throw FALL_BACK;
    seen |= entry.bit;
    if (entry.oneofBit !== 0) {
      if (value === null && entry.nullSkipsOneof) continue;
      if (oneofs & entry.oneofBit) throw FALL_BACK;
      oneofs |= entry.oneofBit;
    }
    // null clears a field: on a new message, nothing to do (a reset sentinel: no google.protobuf types here).
    if (value !== null) entry.read(m, value, ctx);
  }
  ctx.depth--;
  return m;
}

function fieldReader(field: DescField): ReadField | null {
  const name = field.localName;
  const set: (m: Fields, v: unknown) => void = field.oneof
    ? (m, v) => void (m[field.oneof!.localName] = { case: name, value: v })
    : (m, v) => void (m[name] = v);
  switch (field.fieldKind) {
    case "scalar": {
      const read = scalarReader(field.scalar, field.longAsString);
      return (m, json) => set(m, read(json));
    }
    case "enum": {
      const read = enumReader(field);
      if (read === null) return null;
      return (m, json, ctx) => {
        const v = read(json, ctx);
        if (v !== IGNORED) set(m, v);
      };
    }
    case "message": {
      const read = messageReader(field.message);
      if (read === null) return null;
      return (m, json, ctx) => set(m, read(json, ctx));
    }
    case "list":
      return listReader(field);
    case "map":
      return null;
  }
}

type ReadValue = (json: unknown, ctx: Context) => unknown;

function messageReader(desc: DescMessage): ReadValue | null {
  if (isWellKnown(desc)) return null;
  // Looked up when first read: a recursive type is still being planned here.
  let plan: Plan | null | undefined;
  return (json, ctx) => {
    plan ??= plans.of(desc);
    if (plan === null) throw FALL_BACK;
    return readMessage(plan, json, ctx);
  };
}

function listReader(field: DescField & { fieldKind: "list" }): ReadField | null {
  const name = field.localName;
  let read: ReadValue | null;
  switch (field.listKind) {
    case "scalar": {
      const scalar = scalarReader(field.scalar, field.longAsString);
      read = (json) => scalar(json);
      break;
    }
    case "enum":
      read = enumReader(field);
      break;
    case "message":
      read = messageReader(field.message);
      break;
  }
  if (read === null) return null;
  return (m, json, ctx) => {
    if (!Array.isArray(json)) throw FALL_BACK;
    const list = m[name] as unknown[];
    for (let i = 0; i < json.length; i++) {
      const item: unknown = json[i];
      // A null item is refused (no google.protobuf.Value items here).
      if (item === null) throw FALL_BACK;
      const v = read(item, ctx);
      if (v !== IGNORED) list.push(v);
    }
  };
}

/** An open enum's value by name or number (int32), as protobuf-es `readEnum` and the reflect check take it. */
function enumReader(field: DescField & { enum: NonNullable<DescField["enum"]> }): ReadValue | null {
  const type = field.enum;
  if (isWellKnown(type) || !type.open) return null;
  const numbers = new Map(type.values.map((v) => [v.name, v.number]));
  return (json, ctx) => {
    if (typeof json === "number") {
      if (Number.isInteger(json) && json <= INT32_MAX && json >= INT32_MIN) return json;
    } else if (typeof json === "string") {
      const n = numbers.get(json);
      if (n !== undefined) return n;
      if (ctx.ignoreUnknownFields) return IGNORED;
    }
    throw FALL_BACK;
  };
}

/** The members of objects in an ignored unknown field's value, counted as readMessage counts its own. */
function membersIn(json: unknown): number {
  if (json === null || typeof json !== "object") return 0;
  let n = 0;
  if (Array.isArray(json)) {
    for (let i = 0; i < json.length; i++) n += membersIn(json[i]);
    return n;
  }
  const keys = Object.keys(json);
  for (let i = 0; i < keys.length; i++) n += 1 + membersIn((json as Fields)[keys[i]!]);
  return n;
}

/** Object members in well-formed JSON text: its colons outside strings. */
function memberCount(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x3a) n++;
    else if (c === 0x22) {
      // The string's closing quote: the next one not escaped (an odd run of backslashes before it escapes it).
      i = text.indexOf('"', i + 1);
      while (isEscaped(text, i)) i = text.indexOf('"', i + 1);
    }
  }
  return n;
}

function isEscaped(text: string, at: number): boolean {
  let backslashes = 0;
  while (text.charCodeAt(at - 1 - backslashes) === 0x5c) backslashes++;
  return backslashes % 2 === 1;
}

/**
 * connect's JSON parse of a method's input (`parse`, which gives every
 * error), with the reader first where the body is within connect's read
 * limit (over it, `parse` refuses it in its own words).
 */
export function withJsonReader<Desc extends DescMessage>(
  desc: Desc,
  parse: (bytes: Uint8Array) => MessageShape<Desc>,
  readMaxBytes: number,
  options: Partial<JsonReadOptions> | undefined,
): (bytes: Uint8Array) => MessageShape<Desc> {
  const o = jsonReaderOptions(options);
  return (bytes) => (bytes.byteLength <= readMaxBytes ? readJsonRequest(desc, bytes, o) : undefined) ?? parse(bytes);
}
