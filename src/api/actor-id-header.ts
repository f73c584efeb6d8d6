// The one encoding of an actor id in the x-cairn-actor-id header (gRPC
// metadata too), for the clients (client/remote-calls.ts, so also the browser: no
// Node-only imports) and the server (routes.ts) alike.
//
// An id is a UTF-8 string; a header carries only visible ASCII safely. So
// the header holds the id's UTF-8 bytes percent-encoded, as
// `encodeURIComponent` does: any byte may be sent as `%XX` (hex, either
// case), and must be if it is not visible ASCII; `%` itself is sent as
// `%25`. An ASCII id without `%` is therefore sent as is, as curl users
// always have. `+` is a plus, not a space. The server rejects, with
// INVALID_ARGUMENT, a `%` not followed by two hex digits, a raw byte that is
// not ASCII, and bytes that are not UTF-8 once decoded.
import { invalidArgument } from "./errors.js";
import { validateActorId } from "./actor-id.js";

/** Sent as is: visible ASCII but `%`. Everything else is escaped. */
const PLAIN = /^[\x21-\x24\x26-\x7e]*$/;
const HEX = "0123456789ABCDEF";

/** The header value for `id`; INVALID_ARGUMENT if `id` is not a valid actor id. */
export function encodeActorIdHeader(id: string): string {
  validateActorId(id);
  if (PLAIN.test(id)) return id;
  let out = "";
  for (const byte of new TextEncoder().encode(id)) {
    const c = String.fromCharCode(byte);
    out += byte > 0x20 && byte < 0x7f && c !== "%" ? c : `%${HEX[byte >> 4]}${HEX[byte & 15]}`;
  }
  return out;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The actor id a header value names. Node hands header values over byte for
 * byte (latin1), so a raw non-ASCII byte shows as a character above U+007F.
 * The id is not validated further here (the runtime does, on every path).
 */
export function decodeActorIdHeader(value: string): string {
  if (!value.includes("%") && /^[\x00-\x7f]*$/.test(value)) return value;
  const bytes = new Uint8Array(value.length);
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x25) {
      const hex = value.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) {
        throw invalidArgument(`x-cairn-actor-id has a malformed escape at ${i} (write % as %25)`);
      }
      bytes[n++] = parseInt(hex, 16);
      i += 2;
    } else if (c > 0x7f) {
      throw invalidArgument(
        `x-cairn-actor-id has a raw non-ASCII byte at ${i}: send the id's UTF-8 bytes percent-encoded (café as caf%C3%A9)`,
      );
    } else bytes[n++] = c;
  }
  try {
    return strictUtf8.decode(bytes.subarray(0, n));
  } catch {
    throw invalidArgument("x-cairn-actor-id is not UTF-8 once percent-decoded");
  }
}
