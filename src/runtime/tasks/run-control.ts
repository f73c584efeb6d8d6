import { setMaxListeners } from "node:events";
import { Cancelled } from "../../api/errors.js";

/**
 * The in-memory process control of one running task: whether an operator
 * cancelled or paused it. `signal` fires on cancel or when the application
 * stops; `check()` is the cheap test the step helpers make.
 */
export class RunControl {
  readonly #abort = new AbortController();
  /** Fired on cancel, or by the dispatcher when the application stops. */
  readonly signal: AbortSignal = this.#abort.signal;
  #cancelled = false;
  #paused: { promise: Promise<void>; resolve: () => void } | undefined;
  /** Set once the run is recording its outcome: operators wait for it. */
  ending = false;
  /**
   * Set by a run that suspended in `until`: what it read, with the versions
   * seen. The dispatcher starts watching once the run has finished.
   */
  waitingOn: ReadonlyMap<string, number> | undefined;

  // Not AbortSignal.any([stop, …]): on Node 20 every composite signal stays
  // referenced from the long-lived stop signal, a leak per run.
  constructor(readonly taskId: string) {
    setMaxListeners(0, this.signal);
  }

  /** The application is stopping: the run unwinds and resumes on restart. */
  stop(reason: unknown): void {
    this.#abort.abort(reason);
    this.resume();
  }

  get cancelled(): boolean {
    return this.#cancelled;
  }

  get paused(): boolean {
    return this.#paused !== undefined;
  }

  cancel(): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.#abort.abort(new Cancelled(this.taskId));
    this.resume();
  }

  pause(): void {
    if (this.#paused || this.#cancelled) return;
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    this.#paused = { promise, resolve };
  }

  resume(): void {
    const paused = this.#paused;
    this.#paused = undefined;
    paused?.resolve();
  }

  /**
   * Undefined (at once, nothing to await) unless the run must stop or park:
   * then a promise that rejects with Cancelled (or the stop's reason), or
   * resolves on resume.
   */
  check(): Promise<void> | undefined {
    if (!this.#cancelled && !this.#paused && !this.signal.aborted) return undefined;
    return this.#park();
  }

  async #park(): Promise<void> {
    for (;;) {
      if (this.#cancelled) throw new Cancelled(this.taskId);
      if (this.signal.aborted) throw this.signal.reason;
      const paused = this.#paused;
      if (!paused) return;
      await new Promise<void>((resolve) => {
        const onAbort = () => resolve();
        this.signal.addEventListener("abort", onAbort, { once: true });
        void paused.promise.then(() => {
          this.signal.removeEventListener("abort", onAbort);
          resolve();
        });
      });
    }
  }
}
