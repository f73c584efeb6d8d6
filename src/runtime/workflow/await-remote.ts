import type { WorkflowContext } from "../context.js";
import { Aborted, Cancelled, FatalError, misuseIn } from "../../api/errors.js";
import { decodeMemo, encodeMemo, parseJson, stringifyJson, type MemoOptions } from "./memo-codec.js";
import { inStep, openStep, refuseRestart, startAtMostOnce } from "./step-skeleton.js";
import { Suspended } from "./suspended.js";
// Polling one job needs no jitter: the wait after check n is delayAfter(policy, n).
import { checkRetryPolicy, delayAfter } from "../tasks/retry-policy.js";
import type { WorkflowContextImpl } from "./workflow-context.js";

/**
 * Remote jobs, the status-check protocol (DESIGN.md §5, "Beyond the
 * reference"): `start` launches a job elsewhere, at most once, and returns
 * its status input (e.g. a job id); `check` is then called with it at
 * growing intervals until it answers `done(value)`. Between checks the run
 * is suspended like `sleep`: the waiting task is its record and memos only.
 */

/** How long to wait between checks: min(initialMs × multiplier^n, maxMs) before re-check n+1. */
export interface RemoteBackoff {
  /** Wait before the second check. Default 1 s. */
  initialMs?: number;
  /** Growth of the wait per check. Default 2. */
  multiplier?: number;
  /** Cap on the wait. Default 5 min. */
  maxMs?: number;
}

export const DEFAULT_REMOTE_BACKOFF: Readonly<Required<RemoteBackoff>> = { initialMs: 1_000, multiplier: 2, maxMs: 300_000 };

/** The remote job has finished with `value`. */
export interface RemoteDone<T> {
  readonly kind: "done";
  readonly value: T;
}

/** The remote job is still running; `input`, if given, replaces the status input for later checks. */
export interface RemoteRunning<I> {
  readonly kind: "running";
  readonly input?: I;
}

export type RemoteStatus<T, I> = RemoteDone<T> | RemoteRunning<I>;

export function done<T>(value: T): RemoteDone<T> {
  return { kind: "done", value };
}

export function running<I = never>(input?: I): RemoteRunning<I> {
  return input === undefined ? { kind: "running" } : { kind: "running", input };
}

/** What `check` is told besides the status input. */
export interface RemoteCheck {
  /** 1-based count of calls to `check` for this step, failed ones included. */
  readonly check: number;
  /** Fired when the task is cancelled or the application stops: pass it to fetch. */
  readonly signal: AbortSignal;
}

export interface AwaitRemoteOptions<T, I> {
  /**
   * Starts the remote job; called at most once, ever. Returns its status
   * input: JSON (BigInt and Uint8Array safe), stored durably.
   */
  start: (attempt: { readonly signal: AbortSignal }) => Promise<I> | I;
  /**
   * Asks how the job is doing. `FatalError` (or a declared error) ends the
   * task; any other throw is retried on the same growing schedule.
   */
  check: (input: I, info: RemoteCheck) => Promise<RemoteStatus<T, I>> | RemoteStatus<T, I>;
  backoff?: RemoteBackoff;
}

/** The step's memo while it polls; `done` once it has its value (encoded with the step's MemoOptions). */
type RemoteMemo =
  | { readonly input: string; readonly checks: number; readonly errors: number; readonly nextAt: number }
  | { readonly done: string };

const STEP = "awaitRemote";

/**
 * Starts a remote job at most once and waits, durably and without holding
 * memory, until `check` reports it done; returns (and memoizes) its value.
 * The first check follows `start` at once. While waiting, `Tasks.get` shows
 * the task RUNNING with its current status input. A crash inside `start`
 * makes later runs throw AtMostOnceFailedBeforeCompleting, as atMostOnce.
 */
export async function awaitRemote<T, I>(
  alias: string,
  ctx: WorkflowContext,
  options: AwaitRemoteOptions<T, I> & MemoOptions<T>,
): Promise<T> {
  const { run, memo } = await openStep(ctx, STEP, alias);
  const clock = run.runtime.clock;
  const policy = backoffOf(alias, options.backoff);
  refuseRestart(memo, alias);
  let state: RemoteMemo;
  if (memo?.kind === "value") {
    state = readMemo(alias, memo.json);
    if ("done" in state) return decodeMemo(state.done, options, alias);
  } else {
    state = { input: stringifyJson(await inStep(run, STEP, alias, () => startAtMostOnce(run, STEP, alias, () => options.start({ signal: run.signal })))), checks: 0, errors: 0, nextAt: clock.now() };
    await run.remember(STEP, alias, { kind: "value", json: JSON.stringify(state) });
  }
  // Woken early (another step's timer): wait on. The dispatcher's clock
  // decides when the run is due, so the same clock decides here.
  if (clock.now() < state.nextAt) throw suspend(run, state);
  run.live(); // a check no earlier run made

  const checks = state.checks + 1;
  let next: RemoteMemo;
  try {
    const status = await options.check(parseJson(state.input) as I, { check: checks, signal: run.signal });
    if (status.kind === "done") {
      await run.remember(STEP, alias, { kind: "value", json: JSON.stringify({ done: encodeMemo(status.value, options) }) });
      return status.value;
    }
    const input = status.input === undefined ? state.input : stringifyJson(status.input);
    next = { input, checks, errors: state.errors, nextAt: clock.now() + delayAfter(policy, checks) };
  } catch (e) {
    if (run.signal.aborted || endsTheStep(e)) throw e;
    // A failed check is retried on the same schedule, its error shown on the task.
    next = { ...state, checks, errors: state.errors + 1, nextAt: clock.now() + delayAfter(policy, checks) };
    run.remoteWait = { lastError: `${STEP}(${JSON.stringify(alias)}) check ${checks} failed: ${describe(e)}` };
  }
  // Durable before suspending: the next run must check with the newest input.
  await run.remember(STEP, alias, { kind: "value", json: JSON.stringify(next) });
  throw suspend(run, next);
}

function suspend(run: WorkflowContextImpl, state: { input: string; nextAt: number }): Suspended {
  run.remoteWait = { ...run.remoteWait, remoteStatusInput: state.input };
  return run.suspend(state.nextAt);
}

/** Errors no retry of `check` can change, or that are not failures at all. */
function endsTheStep(e: unknown): boolean {
  return e instanceof FatalError || e instanceof Aborted || e instanceof Cancelled || e instanceof Suspended || misuseIn(e) !== undefined;
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** A nonsensical policy is a bug in the workflow: fail the task rather than poll in a hot loop. */
function backoffOf(alias: string, backoff: RemoteBackoff | undefined): Required<RemoteBackoff> {
  const policy = { ...DEFAULT_REMOTE_BACKOFF, ...backoff };
  checkRetryPolicy(policy, (what) => new FatalError(`awaitRemote(${JSON.stringify(alias)}): backoff.${what}`), 1);
  return policy;
}

function readMemo(alias: string, json: string): RemoteMemo {
  let state: unknown;
  try {
    state = JSON.parse(json);
  } catch {
    state = undefined;
  }
  const s = state as Partial<Record<string, unknown>> | undefined;
  const ok =
    s !== null &&
    typeof s === "object" &&
    (typeof s.done === "string" ||
      (typeof s.input === "string" && typeof s.checks === "number" && typeof s.errors === "number" && typeof s.nextAt === "number"));
  if (!ok) throw new FatalError(`the stored state of awaitRemote(${JSON.stringify(alias)}) is corrupt`);
  return state as RemoteMemo;
}
