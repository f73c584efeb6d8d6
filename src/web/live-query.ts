// A reactive reader kept live for a UI: the latest response, whether the
// first one is still coming, and the last error; framework-free (the React
// hook in src/react is a thin wrapper over it).
//
// Read-your-writes. The server's Watch stream carries responses only, no
// versions, so a response cannot be dated against a mutation. What can be
// dated is a stream: a Watch opened after a mutation's reply computes its
// first response from a state that includes the mutation (a writer replies
// once its commit is durable, and readers run on the last durable state).
// So after each mutation made through the same WebContext, every active
// LiveQuery of that context re-opens its stream, ignores anything the old
// stream still delivers, and the mutation's promise resolves only once each
// query has shown a response from its new stream (or an error). Whatever
// renders after `await ref.increment(ctx)` therefore shows that increment
// or something newer.
import { equals, type Message } from "@bufbuild/protobuf";
import { INVOKE, type Invocation } from "../api/invocation.js";
import type { WebContext } from "./web-context.js";

export interface LiveSnapshot<M extends Message = Message> {
  /** The latest response; undefined until the first one arrives. */
  readonly response: M | undefined;
  /** True until the first response (or error) of this query. */
  readonly isLoading: boolean;
  /** Why the stream failed last, until the next response; it is retried. */
  readonly error: unknown;
}

export interface LiveQueryOptions {
  /** First retry delay after a failed stream; doubles up to `maxRetryMs`. Default 250. */
  retryMs?: number;
  /** Default 5000. */
  maxRetryMs?: number;
  /**
   * How long a mutation waits for this query's fresh response before giving
   * up; the query then reports an error rather than silently showing an
   * older state as current. Default 10000.
   */
  refreshTimeoutMs?: number;
}

interface Waiter {
  readonly generation: number;
  readonly resolve: () => void;
}

/**
 * One reader on one actor with one request, watched while anyone subscribes.
 * `subscribe`/`getSnapshot` fit React's `useSyncExternalStore` as they are.
 */
export class LiveQuery<M extends Message = Message> {
  #snapshot: LiveSnapshot<M> = { response: undefined, isLoading: true, error: undefined };
  readonly #listeners = new Set<() => void>();
  readonly #waiters: Waiter[] = [];
  /** Bumped by each (re)start and by stop; a stream serves one generation. */
  #generation = 0;
  #controller: AbortController | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #failures = 0;
  #unhook: (() => void) | undefined;

  constructor(
    readonly ctx: WebContext,
    readonly invocation: Invocation,
    private readonly options: LiveQueryOptions = {},
  ) {
    if (invocation.method.kind !== "reader") {
      throw new Error(`${invocation.method.name} is a ${invocation.method.kind}; only readers can be watched`);
    }
  }

  /** The current state; the same object until something changes. */
  readonly getSnapshot = (): LiveSnapshot<M> => this.#snapshot;

  /** The first subscriber opens the stream, the last one closes it. */
  readonly subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    if (this.#listeners.size === 1) {
      this.#unhook = this.ctx.onAfterWrite(() => this.refresh());
      this.#start();
    }
    return () => {
      if (!this.#listeners.delete(listener) || this.#listeners.size > 0) return;
      this.#stop();
    };
  };

  /**
   * Re-opens the stream; resolves once a response (or an error) from the new
   * stream is in the snapshot, at once if nobody is subscribed.
   */
  refresh(): Promise<void> {
    if (this.#listeners.size === 0) return Promise.resolve();
    const generation = this.#start();
    return new Promise<void>((resolve) => {
      const timeoutMs = this.options.refreshTimeoutMs ?? 10_000;
      const timer = setTimeout(() => {
        if (this.#generation === generation) {
          this.#set({ ...this.#snapshot, error: new Error(`no response within ${timeoutMs} ms after a write`) });
        }
        resolve();
      }, timeoutMs);
      this.#waiters.push({
        generation,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  #start(): number {
    this.#controller?.abort();
    clearTimeout(this.#retryTimer);
    const generation = ++this.#generation;
    const controller = new AbortController();
    this.#controller = controller;
    void this.#run(generation, controller.signal);
    return generation;
  }

  async #run(generation: number, signal: AbortSignal): Promise<void> {
    const output = this.invocation.method.desc.output;
    try {
      for await (const message of this.ctx[INVOKE].watch(this.invocation, signal)) {
        if (generation !== this.#generation) return;
        this.#failures = 0;
        const previous = this.#snapshot.response;
        // A re-opened stream repeats the current response: keep its identity.
        const response = previous && equals(output, previous, message as M) ? previous : (message as M);
        this.#set({ response, isLoading: false, error: undefined });
        this.#settle(generation);
      }
      if (generation !== this.#generation) return;
      throw new Error("the watch stream ended");
    } catch (e) {
      if (generation !== this.#generation || signal.aborted) return;
      this.#set({ ...this.#snapshot, isLoading: false, error: e });
      this.#settle(generation);
      const base = this.options.retryMs ?? 250;
      const delay = Math.min(base * 2 ** this.#failures++, this.options.maxRetryMs ?? 5_000);
      this.#retryTimer = setTimeout(() => {
        if (generation === this.#generation && this.#listeners.size > 0) this.#start();
      }, delay);
    }
  }

  #stop(): void {
    this.#generation++;
    this.#controller?.abort();
    this.#controller = undefined;
    clearTimeout(this.#retryTimer);
    this.#unhook?.();
    this.#unhook = undefined;
    this.#settle(Infinity);
    // Nobody watched for a while: what we hold may predate a write since.
    this.#snapshot = { response: undefined, isLoading: true, error: undefined };
  }

  /** Releases the mutations waiting for a response of `generation` or older. */
  #settle(generation: number): void {
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const w = this.#waiters[i]!;
      if (w.generation <= generation) {
        this.#waiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  #set(next: LiveSnapshot<M>): void {
    const cur = this.#snapshot;
    if (cur.response === next.response && cur.isLoading === next.isLoading && cur.error === next.error) return;
    this.#snapshot = next;
    for (const listener of [...this.#listeners]) listener();
  }
}
