// A server stream kept live for a UI: the newest message, whether the first
// one is still coming, and the last error; reconnects with backoff until the
// stream says it is done. Framework-free: `subscribe`/`getSnapshot` fit
// React's `useSyncExternalStore` (useTask, the inspector's views).
import { Code, ConnectError } from "@connectrpc/connect";

export interface StreamSnapshot<T> {
  /** The newest message; undefined until the first one arrives. */
  readonly value: T | undefined;
  /** True until the first message (or error). */
  readonly isLoading: boolean;
  /** Why the stream failed last, until the next message; retried unless the code says it is no use. */
  readonly error: unknown;
}

export interface LiveStreamOptions<T> {
  /** First retry delay after a failed stream; doubles up to `maxRetryMs`. Default 250. */
  readonly retryMs?: number;
  /** Default 5000. */
  readonly maxRetryMs?: number;
  /** The last message a stream will send (a task that ended): no reconnect after it. */
  readonly isFinal?: (value: T) => boolean;
}

/** Errors a retry cannot mend: asking again gets the same answer. */
const FINAL_CODES = new Set([Code.NotFound, Code.PermissionDenied, Code.Unauthenticated, Code.InvalidArgument, Code.Unimplemented]);

/** One server stream, open while anyone subscribes. */
export class LiveStream<T> {
  #snapshot: StreamSnapshot<T> = { value: undefined, isLoading: true, error: undefined };
  readonly #listeners = new Set<() => void>();
  #controller: AbortController | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #failures = 0;

  constructor(
    private readonly open: (signal: AbortSignal) => AsyncIterable<T>,
    private readonly options: LiveStreamOptions<T> = {},
  ) {}

  readonly getSnapshot = (): StreamSnapshot<T> => this.#snapshot;

  /** The first subscriber opens the stream, the last one closes it. */
  readonly subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    if (this.#listeners.size === 1) this.#start();
    return () => {
      if (!this.#listeners.delete(listener) || this.#listeners.size > 0) return;
      this.#controller?.abort();
      this.#controller = undefined;
      clearTimeout(this.#retryTimer);
    };
  };

  #start(): void {
    const controller = new AbortController();
    this.#controller = controller;
    void this.#run(controller.signal);
  }

  async #run(signal: AbortSignal): Promise<void> {
    try {
      for await (const value of this.open(signal)) {
        if (signal.aborted) return;
        this.#failures = 0;
        this.#set({ value, isLoading: false, error: undefined });
        if (this.options.isFinal?.(value)) return;
      }
      if (signal.aborted) return;
      throw new Error("the stream ended");
    } catch (e) {
      if (signal.aborted) return;
      this.#set({ ...this.#snapshot, isLoading: false, error: e });
      if (e instanceof ConnectError && FINAL_CODES.has(e.code)) return;
      const delay = Math.min((this.options.retryMs ?? 250) * 2 ** this.#failures++, this.options.maxRetryMs ?? 5_000);
      this.#retryTimer = setTimeout(() => {
        if (this.#controller?.signal === signal) this.#start();
      }, delay);
    }
  }

  #set(next: StreamSnapshot<T>): void {
    this.#snapshot = next;
    for (const listener of [...this.#listeners]) listener();
  }
}
