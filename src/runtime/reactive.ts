import { toBinary, type Message } from "@bufbuild/protobuf";
import type { Caller } from "./context-impl.js";
import { invalidArgument } from "./errors.js";
import { ReadSet, trackReads } from "./read-tracking.js";
import type { Call, Runtime } from "./runtime.js";

/**
 * A reactive reader: the reader's response now, then again each time a
 * state it read (its own, or another actor's through reader calls) commits
 * a new version, skipping responses equal to the last one.
 *
 * Pull-based: the next response is computed only when the consumer asks for
 * it, from the latest durable state, so a slow consumer coalesces to the
 * newest response and holds nothing but one read set. Ending the iteration
 * or aborting `signal` frees everything.
 */
export async function* watchReader(
  runtime: Runtime,
  call: Call,
  caller: Caller,
  signal: AbortSignal | undefined,
): AsyncGenerator<Message, void, undefined> {
  if (call.method.kind !== "reader") {
    throw invalidArgument(`${call.method.name} is a ${call.method.kind}; only readers can be watched`);
  }
  // The first call is checked like any other; re-runs are ours.
  let first = true;
  let last: Uint8Array | undefined;
  while (!signal?.aborted) {
    const reads = new ReadSet();
    const response = await trackReads(reads, () => runtime.execute(call, first ? caller : { ...caller, internal: true }));
    first = false;
    const bytes = toBinary(call.method.desc.output, response);
    if (!last || !sameBytes(bytes, last)) {
      last = bytes;
      yield response;
    }
    try {
      await runtime.watchers.waitForAny(reads, (key) => runtime.durableVersion(key), signal);
    } catch {
      return; // aborted: the subscriber went away
    }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}
