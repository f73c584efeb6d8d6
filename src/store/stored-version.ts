import type { Database } from "lmdb";
import type { StoredState } from "./store.js";
import type { StateKey } from "./range-scans.js";

/**
 * How lmdb-js (msgpackr, records without shared structures) writes a
 * `{ version, bytes }` record: a record definition (fixext 1, type "r",
 * its id), the key names ["version", "bytes"], then the values in order.
 * The id (byte 2) may be any record id; every other byte is fixed.
 */
const HEAD = Uint8Array.from([0xd4, 0x72, 0x40, 0x92, 0xa7, ...Buffer.from("version"), 0xa5, ...Buffer.from("bytes")]);
const ID_AT = 2;

/**
 * The version in a stored state record's bytes, read in place; undefined
 * when the bytes are not laid out as `HEAD` then an unsigned integer (the
 * caller then decodes the record).
 */
export function versionInPlace(raw: Uint8Array): number | undefined {
  const n = HEAD.length;
  if (raw.length <= n) return undefined;
  for (let i = 0; i < n; i++) if (raw[i] !== HEAD[i] && i !== ID_AT) return undefined;
  const id = raw[ID_AT]!;
  if (id < 0x40 || id > 0x7f) return undefined;
  const tag = raw[n]!;
  if (tag <= 0x7f) return tag; // positive fixint
  const view = new DataView(raw.buffer, raw.byteOffset + n + 1, raw.length - n - 1);
  switch (tag) {
    case 0xcc:
      return view.byteLength >= 1 ? view.getUint8(0) : undefined;
    case 0xcd:
      return view.byteLength >= 2 ? view.getUint16(0) : undefined;
    case 0xce:
      return view.byteLength >= 4 ? view.getUint32(0) : undefined;
    case 0xcb: {
      // msgpackr writes integers past 32 bits as float64.
      const v = view.byteLength >= 8 ? view.getFloat64(0) : NaN;
      return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
    }
    default:
      return undefined;
  }
}

/**
 * The version stored for an actor (0: absent), for the optimistic check in
 * a commit: read from the record's bytes in place (decoding the whole
 * record copied its state bytes, for nothing), or, for a record laid out
 * otherwise, by decoding it.
 */
export function storedVersion(states: Database<StoredState, StateKey>, key: StateKey): number {
  const raw = states.getBinaryFast(key);
  if (raw === undefined) return 0;
  return versionInPlace(raw) ?? states.get(key)?.version ?? 0;
}
