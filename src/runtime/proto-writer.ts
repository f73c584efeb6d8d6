/**
 * A protobuf binary writer into one growing buffer, for the state
 * encoder: protobuf-es's `BinaryWriter` keeps bytes in a number array and
 * a chunk per string, bytes field and nested message (its own profile
 * was most of an encode). Values are written as BinaryWriter writes them,
 * byte for byte; a value BinaryWriter would refuse throws `InvalidValue`
 * here (the encoder then hands the message to toBinary for its error).
 *
 * Not re-entrant: one encode at a time uses the module's scratch buffer
 * (encodes are synchronous), and `finish` copies the result out.
 */
export class InvalidValue extends Error {}

const INT32_MAX = 0x7fffffff;
const INT32_MIN = -0x80000000;
const UINT32_MAX = 0xffffffff;
const FLOAT32_MAX = 3.4028234663852886e38;
const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

let scratch = Buffer.allocUnsafe(4096);
let view = new DataView(scratch.buffer, scratch.byteOffset, scratch.byteLength);
/** For splitting 64-bit integers into two 32-bit halves. */
const int64View = new DataView(new ArrayBuffer(8));

export class ProtoWriter {
  #pos = 0;
  /** Where each open fork's one reserved length byte is. */
  readonly #forks: number[] = [];

  #ensure(n: number): void {
    if (this.#pos + n <= scratch.length) return;
    const grown = Buffer.allocUnsafe(Math.max(scratch.length * 2, this.#pos + n));
    scratch.copy(grown, 0, 0, this.#pos);
    scratch = grown;
    view = new DataView(scratch.buffer, scratch.byteOffset, scratch.byteLength);
  }

  /** An unsigned 32-bit varint (tags, lengths), unchecked. */
  varint32(v: number): this {
    this.#ensure(5);
    let pos = this.#pos;
    while (v > 0x7f) {
      scratch[pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    scratch[pos++] = v;
    this.#pos = pos;
    return this;
  }

  #varint64(lo: number, hi: number): void {
    this.#ensure(10);
    let pos = this.#pos;
    for (let i = 0; i < 28; i += 7) {
      const shift = lo >>> i;
      const hasNext = !(shift >>> 7 === 0 && hi === 0);
      scratch[pos++] = (hasNext ? shift | 0x80 : shift) & 0xff;
      if (!hasNext) return void (this.#pos = pos);
    }
    const splitBits = ((lo >>> 28) & 0x0f) | ((hi & 0x07) << 4);
    const hasMoreBits = !(hi >> 3 === 0);
    scratch[pos++] = (hasMoreBits ? splitBits | 0x80 : splitBits) & 0xff;
    if (!hasMoreBits) return void (this.#pos = pos);
    for (let i = 3; i < 31; i += 7) {
      const shift = hi >>> i;
      const hasNext = !(shift >>> 7 === 0);
      scratch[pos++] = (hasNext ? shift | 0x80 : shift) & 0xff;
      if (!hasNext) return void (this.#pos = pos);
    }
    scratch[pos++] = (hi >>> 31) & 0x01;
    this.#pos = pos;
  }

  int32(v: number): void {
    checkInt32(v);
    if (v >= 0) this.varint32(v);
    else this.#varint64(v, -1); // sign-extended to 64 bits, as varint32write does
  }

  uint32(v: number): void {
    if (!Number.isInteger(v) || v > UINT32_MAX || v < 0) throw new InvalidValue();
    this.varint32(v);
  }

  sint32(v: number): void {
    checkInt32(v);
    this.varint32(((v << 1) ^ (v >> 31)) >>> 0);
  }

  bool(v: boolean): void {
    this.#ensure(1);
    scratch[this.#pos++] = v ? 1 : 0;
  }

  int64(v: bigint): void {
    split(v, false);
    this.#varint64(int64View.getInt32(0, true), int64View.getInt32(4, true));
  }

  uint64(v: bigint): void {
    split(v, true);
    this.#varint64(int64View.getInt32(0, true), int64View.getInt32(4, true));
  }

  sint64(v: bigint): void {
    split(v, false);
    const lo0 = int64View.getInt32(0, true);
    const hi0 = int64View.getInt32(4, true);
    const sign = hi0 >> 31;
    this.#varint64((lo0 << 1) ^ sign, ((hi0 << 1) | (lo0 >>> 31)) ^ sign);
  }

  fixed32(v: number): void {
    if (!Number.isInteger(v) || v > UINT32_MAX || v < 0) throw new InvalidValue();
    this.#ensure(4);
    view.setUint32(this.#pos, v, true);
    this.#pos += 4;
  }

  sfixed32(v: number): void {
    checkInt32(v);
    this.#ensure(4);
    view.setInt32(this.#pos, v, true);
    this.#pos += 4;
  }

  fixed64(v: bigint): void {
    this.#fixed64(v, true);
  }

  sfixed64(v: bigint): void {
    this.#fixed64(v, false);
  }

  #fixed64(v: bigint, unsigned: boolean): void {
    split(v, unsigned);
    this.#ensure(8);
    view.setInt32(this.#pos, int64View.getInt32(0, true), true);
    view.setInt32(this.#pos + 4, int64View.getInt32(4, true), true);
    this.#pos += 8;
  }

  float(v: number): void {
    if (Number.isFinite(v) && (v > FLOAT32_MAX || v < -FLOAT32_MAX)) throw new InvalidValue();
    this.#ensure(4);
    view.setFloat32(this.#pos, v, true);
    this.#pos += 4;
  }

  double(v: number): void {
    this.#ensure(8);
    view.setFloat64(this.#pos, v, true);
    this.#pos += 8;
  }

  bytes(v: Uint8Array): void {
    this.varint32(v.byteLength);
    this.#ensure(v.byteLength);
    scratch.set(v, this.#pos);
    this.#pos += v.byteLength;
  }

  string(v: string): void {
    // Unpaired surrogates become U+FFFD in both this and TextEncoder.
    const n = Buffer.byteLength(v, "utf8");
    this.varint32(n);
    this.#ensure(n);
    this.#pos += scratch.write(v, this.#pos, n, "utf8");
  }

  raw(v: Uint8Array): void {
    this.#ensure(v.byteLength);
    scratch.set(v, this.#pos);
    this.#pos += v.byteLength;
  }

  /** Starts a length-delimited run (a nested message, a packed list, a map entry). */
  fork(): void {
    this.#ensure(1);
    this.#forks.push(this.#pos++);
  }

  /** Ends the last run: its length before it (moving it along when the length takes more than one byte). */
  join(): void {
    const at = this.#forks.pop()!;
    const length = this.#pos - at - 1;
    if (length < 0x80) {
      scratch[at] = length;
      return;
    }
    const size = length < 1 << 14 ? 2 : length < 1 << 21 ? 3 : length < 1 << 28 ? 4 : 5;
    this.#ensure(size - 1);
    scratch.copyWithin(at + size, at + 1, this.#pos);
    const end = this.#pos + size - 1;
    this.#pos = at;
    this.varint32(length);
    this.#pos = end;
  }

  /** The bytes written, copied out (the scratch buffer is the next encode's). */
  finish(): Uint8Array {
    const out = new Uint8Array(this.#pos);
    out.set(scratch.subarray(0, this.#pos));
    this.#pos = 0;
    return out;
  }
}

function checkInt32(v: number): void {
  if (!Number.isInteger(v) || v > INT32_MAX || v < INT32_MIN) throw new InvalidValue();
}

/** `v` into int64View (little-endian), range-checked as protoInt64 checks it. */
function split(v: bigint, unsigned: boolean): void {
  if (unsigned) {
    if (v > UINT64_MAX || v < 0n) throw new InvalidValue();
    int64View.setBigUint64(0, v, true);
  } else {
    if (v > INT64_MAX || v < INT64_MIN) throw new InvalidValue();
    int64View.setBigInt64(0, v, true);
  }
}
