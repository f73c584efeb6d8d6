import type { WorkflowContext } from "../context.js";
import { AtMostOnceFailed, AtMostOnceFailedBeforeCompleting, FatalError } from "../../api/errors.js";
import { ReadSet, trackReads } from "../read-tracking.js";
import { decodeMemo, encodeMemo, type MemoOptions } from "./memo-codec.js";
import { recordEvent, taskEvent } from "../tasks/task-events.js";
import { runWithPolicy, type StepAttempt, type StepOptions } from "./step-retry.js";
import { workflowRun, type WorkflowContextImpl } from "./workflow-context.js";

export type { StepAttempt, StepOptions, StepRetry } from "./step-retry.js";

type Falsy = false | 0 | 0n | "" | null | undefined;

/** Refuses a step alias used twice in one run (shared by every step helper). */
export function claimStep(run: WorkflowContextImpl, step: string, alias: string): void {
  run.claim(`${step}:${alias}`, () => `${step}(${JSON.stringify(alias)}) is used twice in one run: aliases must be unique`);
}

/**
 * Process control at a durable step: parks while the task is paused, throws
 * Cancelled once it is cancelled. Costs one flag check otherwise.
 */
export async function checkpointOf(run: WorkflowContextImpl): Promise<void> {
  const wait = run.runControl.check();
  if (wait) await wait;
}

/**
 * Runs `fn` until it returns a non-falsy value, re-running it only when a
 * state it read commits a new version; memoized under `alias` once it has.
 */
export async function until<T>(
  alias: string,
  ctx: WorkflowContext,
  fn: () => Promise<T | Falsy> | T | Falsy,
  options?: MemoOptions<T>,
): Promise<T> {
  const run = workflowRun(ctx, "until");
  await checkpointOf(run);
  claimStep(run, "until", alias);
  const memo = run.memo("until", alias);
  if (memo?.kind === "value") return decodeMemo(memo.json, options, alias);
  const reads = new ReadSet();
  const value = await trackReads(reads, async () => fn());
  if (value) {
    run.rememberLazily("until", alias, { kind: "value", json: encodeMemo(value as T, options) });
    return value as T;
  }
  if (reads.size === 0) {
    throw new FatalError(`until(${JSON.stringify(alias)}) read no actor state, so nothing could ever wake it`);
  }
  // Not yet: end the run and hold nothing but what it read. The dispatcher
  // re-runs the workflow from the top when one of those states changes.
  throw run.suspendOn(reads);
}

/**
 * Runs `fn` until it returns, then stores its result: later runs return the
 * stored result without calling `fn`. A throw stores nothing. With
 * `retry`, a throw is retried in place (FatalError and declared errors
 * are not); `timeoutMs` bounds each attempt.
 */
export async function atLeastOnce<T>(
  alias: string,
  ctx: WorkflowContext,
  fn: (attempt: StepAttempt) => Promise<T> | T,
  options?: MemoOptions<T> & StepOptions,
): Promise<T> {
  const run = workflowRun(ctx, "atLeastOnce");
  await checkpointOf(run);
  claimStep(run, "atLeastOnce", alias);
  const memo = run.memo("atLeastOnce", alias);
  if (memo?.kind === "value") return decodeMemo(memo.json, options, alias);
  // Each failed attempt is in the task's history.
  const onRetry = (attempt: number, e: unknown, delayMs: number) => {
    const why = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    const detail = `atLeastOnce ${JSON.stringify(alias)} attempt ${attempt} failed (${why}), next in ${delayMs} ms`;
    recordEvent(run.runtime.store, taskEvent(run.runtime.clock.now(), run.taskId, "retried", detail));
  };
  const value = await runWithPolicy(alias, fn, options, run.signal, onRetry);
  run.rememberLazily("atLeastOnce", alias, { kind: "value", json: encodeMemo(value, options) });
  return value;
}

/**
 * Calls `fn` at most once, ever: the start is made durable first. A throw is
 * stored and re-thrown on every later run; a run after a crash mid-step
 * throws AtMostOnceFailedBeforeCompleting. Neither calls `fn` again.
 */
export async function atMostOnce<T>(
  alias: string,
  ctx: WorkflowContext,
  fn: () => Promise<T> | T,
  options?: MemoOptions<T>,
): Promise<T> {
  const run = workflowRun(ctx, "atMostOnce");
  await checkpointOf(run);
  claimStep(run, "atMostOnce", alias);
  const memo = run.memo("atMostOnce", alias);
  if (memo?.kind === "value") return decodeMemo(memo.json, options, alias);
  if (memo?.kind === "error") throw new AtMostOnceFailed(alias, memo.name, memo.message);
  if (memo?.kind === "started") throw new AtMostOnceFailedBeforeCompleting(alias);
  await run.remember("atMostOnce", alias, { kind: "started" });
  let value: T;
  try {
    value = await fn();
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    await run.remember("atMostOnce", alias, { kind: "error", name: err.name, message: err.message });
    throw e;
  }
  await run.remember("atMostOnce", alias, { kind: "value", json: encodeMemo(value, options) });
  return value;
}
