import { fromBinary, toBinary, type Message } from "@bufbuild/protobuf";
import type { Caller } from "./context-impl.js";
import { invalidArgument } from "./errors.js";
import { ReadSet, trackReads } from "./read-tracking.js";
import type { Call, Runtime } from "./runtime.js";

/** Subscribers woken per turn of the event loop (see `SharedWatch.#wakeAll`). */
const WAKE_CHUNK = 25;

/**
 * One reader re-run for every subscriber of the same (actor, reader,
 * request): a commit costs one reader run however many clients watch it.
 * `seq` counts distinct responses; subscribers read `latest` when they pull,
 * so a slow one skips to the newest.
 */
class SharedWatch {
  readonly subscribers = new Set<() => void>();
  latest: Uint8Array | undefined;
  failure: unknown;
  seq = 0;
  readonly #stop = new AbortController();
  /** A wake pass is under way (subscribers still to wake, chunk by chunk). */
  #waking = false;
  /** `seq` when the current wake pass started. */
  #wakingSeq = 0;

  constructor(
    private readonly runtime: Runtime,
    private readonly call: Call,
    private readonly onIdle: () => void,
  ) {
    void this.#run();
  }

  leave(wake: () => void): void {
    this.subscribers.delete(wake);
    if (this.subscribers.size === 0) {
      this.#stop.abort();
      this.onIdle();
    }
  }

  async #run(): Promise<void> {
    const internal: Caller = { kind: "reader", internal: true };
    try {
      while (!this.#stop.signal.aborted) {
        const reads = new ReadSet();
        const response = await trackReads(reads, () => this.runtime.execute(this.call, internal));
        const bytes = toBinary(this.call.method.desc.output, response);
        if (!this.latest || Buffer.compare(bytes, this.latest) !== 0) {
          this.latest = bytes;
          this.seq++;
          this.#wakeAll();
        }
        const current = (key: string) => this.runtime.durableVersion(key);
        await this.runtime.watchers.waitForAny(reads, current, this.#stop.signal);
      }
    } catch (e) {
      if (this.#stop.signal.aborted) return;
      this.failure = e;
      this.seq++;
      this.#wakeAll();
    }
  }

  /**
   * Wakes every subscriber, WAKE_CHUNK at a time with `setImmediate` between
   * chunks, so that with many subscribers other work (commits, the writer's
   * replies, the next reader run) interleaves with the fan-out instead of
   * queueing behind it. A woken subscriber reads `latest` when it pulls, so
   * one woken late gets the newest response (coalescing), never an older one.
   * A response that arrives during a pass is seen by the rest of that pass;
   * those already woken get another pass after it.
   */
  #wakeAll(): void {
    if (this.#waking) return; // the current pass ends with another one
    if (this.subscribers.size <= WAKE_CHUNK) {
      for (const wake of this.subscribers) wake();
      return;
    }
    this.#waking = true;
    this.#wakingSeq = this.seq;
    const pass = [...this.subscribers];
    let next = 0;
    const chunk = (): void => {
      const end = Math.min(pass.length, next + WAKE_CHUNK);
      for (; next < end; next++) pass[next]!();
      if (next < pass.length) {
        setImmediate(chunk);
        return;
      }
      this.#waking = false;
      // Newer than what the start of this pass was woken for: wake again.
      if (this.seq !== this.#wakingSeq) this.#wakeAll();
    };
    chunk();
  }
}

const shared = new WeakMap<Runtime, Map<string, SharedWatch>>();

function sharedWatch(runtime: Runtime, call: Call): SharedWatch {
  let watches = shared.get(runtime);
  if (!watches) shared.set(runtime, (watches = new Map()));
  const request = Buffer.from(toBinary(call.method.desc.input, call.request)).toString("base64");
  const key = [call.spec.typeName, call.actorId, call.method.name, request].join("\u0000");
  let watch = watches.get(key);
  if (!watch || watch.failure !== undefined) {
    watch = new SharedWatch(runtime, call, () => watches.delete(key));
    watches.set(key, watch);
  }
  return watch;
}

/**
 * A reactive reader: the reader's response now, then again each time a
 * state it read (its own, or another actor's through reader calls) commits
 * a new version, skipping responses equal to the last one.
 *
 * Pull-based: a subscriber takes the newest response when it asks for the
 * next, so a slow consumer coalesces and holds nothing but a position.
 * Ending the iteration or aborting `signal` frees everything.
 */
export async function* watchReader(
  runtime: Runtime,
  call: Call,
  caller: Caller,
  signal: AbortSignal | undefined,
): AsyncGenerator<Message, void, undefined> {
  for await (const bytes of watchReaderBytes(runtime, call, caller, signal)) {
    yield fromBinary(call.method.desc.output, bytes);
  }
}

/** `watchReader` as encoded responses: the transport sends them as they are. */
export async function* watchReaderBytes(
  runtime: Runtime,
  call: Call,
  caller: Caller,
  signal: AbortSignal | undefined,
): AsyncGenerator<Uint8Array, void, undefined> {
  if (call.method.kind !== "reader") {
    throw invalidArgument(`${call.method.name} is a ${call.method.kind}; only readers can be watched`);
  }
  // Checked like a call by this caller (authorization, a missing actor);
  // the shared re-runs after it are the application's own.
  await runtime.execute(call, caller);
  const watch = sharedWatch(runtime, call);
  let wake: (() => void) | undefined;
  const notify = () => wake?.();
  watch.subscribers.add(notify);
  const onAbort = () => wake?.();
  signal?.addEventListener("abort", onAbort, { once: true });
  let seen = 0;
  let last: Uint8Array | undefined;
  try {
    while (!signal?.aborted) {
      if (watch.seq === seen) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        continue;
      }
      seen = watch.seq;
      if (watch.failure !== undefined) throw watch.failure;
      // A subscriber that skipped ahead may land on what it saw last.
      if (last && Buffer.compare(last, watch.latest!) === 0) continue;
      last = watch.latest!;
      yield last;
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    watch.leave(notify);
  }
}
