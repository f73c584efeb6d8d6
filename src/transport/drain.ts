import { setMaxListeners } from "node:events";
import type { Interceptor } from "@connectrpc/connect";
import { serverStopping } from "../api/errors.js";

/**
 * The port's part in a graceful stop. Once `begin()` is called, new calls
 * are refused with UNAVAILABLE "server stopping" (clients retry elsewhere),
 * open streams end with the same error, and `settled()` resolves when the
 * unary calls already running have answered.
 */
export class Drain {
  #draining = false;
  readonly #ending = new AbortController();
  #inFlight = 0;
  readonly #idle = new Set<() => void>();

  constructor() {
    // Every open stream listens.
    setMaxListeners(0, this.#ending.signal);
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Fires when draining begins: streams end. */
  get signal(): AbortSignal {
    return this.#ending.signal;
  }

  begin(): void {
    if (this.#draining) return;
    this.#draining = true;
    this.#ending.abort(serverStopping());
  }

  /** Resolves once no unary call is running, or after `boundMs`, whichever is first. */
  async settled(boundMs: number): Promise<void> {
    if (this.#inFlight === 0) return;
    let timer: NodeJS.Timeout | undefined;
    let done!: () => void;
    try {
      await new Promise<void>((resolve) => {
        done = resolve;
        this.#idle.add(done);
        timer = setTimeout(resolve, boundMs);
      });
    } finally {
      clearTimeout(timer);
      this.#idle.delete(done);
    }
  }

  /** Runs one unary call: refused while draining, counted while it runs (connect's route). */
  async unary<T>(call: () => Promise<T>): Promise<T> {
    this.enter();
    try {
      return await call();
    } finally {
      this.leave();
    }
  }

  /**
   * A unary call starts: throws UNAVAILABLE while draining, else counts it
   * until its `leave()`. The fast path's form of `unary` (no closure and
   * no wrapping promise per call).
   */
  enter(): void {
    if (this.#draining) throw serverStopping();
    this.#inFlight++;
  }

  /** A call `enter` counted has answered (or failed). */
  leave(): void {
    if (--this.#inFlight === 0) for (const resolve of this.#idle) resolve();
  }

  /** For connect's router: refuses calls while draining, counts unary ones, ends streams. */
  readonly interceptor: Interceptor = (next) => async (req) => {
    if (!req.stream) return this.unary(() => next(req));
    if (this.#draining) throw serverStopping();
    const res = await next(req);
    return res.stream ? { ...res, message: endOnDrain(res.message, this.signal) } : res;
  };
}

/** A stream's messages until `signal` fires; then it throws the signal's reason. */
async function* endOnDrain<T>(messages: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T, void, undefined> {
  const iterator = messages[Symbol.asyncIterator]();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  aborted.catch(() => {});
  try {
    for (;;) {
      const next = await Promise.race([iterator.next(), aborted]);
      if (next.done) return;
      yield next.value;
    }
  } finally {
    signal.removeEventListener("abort", onAbort!);
    // Not awaited: a generator parked in next() returns only once its own wait ends (the call's signal).
    void iterator.return?.()?.catch(() => {});
  }
}
