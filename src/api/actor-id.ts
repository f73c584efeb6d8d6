import { invalidArgument } from "./errors.js";

/** The longest actor id, counted in UTF-8 bytes. */
export const MAX_ACTOR_ID_BYTES = 512;

/**
 * What an actor id may be, whichever way it comes (the x-cairn-actor-id
 * header, a Watch request's body, a ref in a workflow): a non-empty Unicode
 * string with one UTF-8 form (no lone surrogates), no control characters
 * (U+0000–U+001F, U+007F: they cannot travel in a header and NUL separates
 * our internal keys), and at most 512 bytes in UTF-8. No Node-only imports:
 * the browser client checks ids with it before sending.
 */
export function validateActorId(id: string): void {
  if (!id) throw invalidArgument("missing actor id: every call needs the x-cairn-actor-id header");
  let bytes = 0;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) {
      throw invalidArgument(`actor id ${JSON.stringify(id)} has a control character (U+${c.toString(16).padStart(4, "0").toUpperCase()})`);
    }
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && isLowSurrogate(id.charCodeAt(i + 1))) {
      bytes += 4;
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      throw invalidArgument(`actor id ${JSON.stringify(id)} is not well-formed Unicode (a lone surrogate at ${i})`);
    } else bytes += 3;
  }
  if (bytes > MAX_ACTOR_ID_BYTES) throw invalidArgument(`actor id longer than ${MAX_ACTOR_ID_BYTES} bytes in UTF-8 (${bytes})`);
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}
