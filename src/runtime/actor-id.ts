import { invalidArgument } from "./errors.js";

/** Longest actor id, in UTF-8 bytes (DESIGN.md §7). */
export const MAX_ACTOR_ID_BYTES = 512;

/** In a `u` regex a surrogate pair is one code point, so this matches only lone halves. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * The one check every path that names an actor makes (direct calls, spawns,
 * schedules, transactions): a non-empty Unicode string of at most 512 UTF-8
 * bytes. A lone surrogate has no UTF-8 form, so it is not an id.
 */
export function checkActorId(actorId: string): void {
  if (!actorId) throw invalidArgument("missing actor id: every call needs the x-cairn-actor-id header");
  if (LONE_SURROGATE.test(actorId)) throw invalidArgument("actor id is not valid Unicode (it has a lone surrogate)");
  const bytes = Buffer.byteLength(actorId, "utf8");
  if (bytes > MAX_ACTOR_ID_BYTES) {
    throw invalidArgument(`actor id is ${bytes} bytes of UTF-8; the limit is ${MAX_ACTOR_ID_BYTES}`);
  }
}
