import type { WorkflowContext } from "../context.js";
import { FatalError } from "../../api/errors.js";
import { ReadSet, trackReads } from "../read-tracking.js";
import { encodeMemo, type MemoOptions } from "./memo-codec.js";
import { recordEvent, taskEvent } from "../tasks/task-events.js";
import { inStep, memoValue, openStep, refuseRestart, startAtMostOnce } from "./step-skeleton.js";
import { runWithPolicy, type StepAttempt, type StepOptions } from "./step-retry.js";

export type { StepAttempt, StepOptions, StepRetry } from "./step-retry.js";

type Falsy = false | 0 | 0n | "" | null | undefined;

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
  const { run, memo } = await openStep(ctx, "until", alias);
  const stored = await memoValue(memo, options, alias);
  if (stored) return stored.value;
  const reads = new ReadSet();
  const value = await inStep(run, "until", alias, () => trackReads(reads, async () => fn()));
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
  const { run, memo } = await openStep(ctx, "atLeastOnce", alias);
  const stored = await memoValue(memo, options, alias);
  if (stored) return stored.value;
  // Each failed attempt is in the task's history.
  const onRetry = (attempt: number, e: unknown, delayMs: number) => {
    const why = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    const detail = `atLeastOnce ${JSON.stringify(alias)} attempt ${attempt} failed (${why}), next in ${delayMs} ms`;
    recordEvent(run.runtime, taskEvent(run.runtime.clock.now(), run.taskId, "retried", detail));
  };
  const value = await inStep(run, "atLeastOnce", alias, () => runWithPolicy(alias, fn, options, run.signal, onRetry));
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
  const { run, memo } = await openStep(ctx, "atMostOnce", alias);
  const stored = await memoValue(memo, options, alias);
  if (stored) return stored.value;
  refuseRestart(memo, alias);
  const value = await inStep(run, "atMostOnce", alias, () => startAtMostOnce(run, "atMostOnce", alias, fn));
  await run.remember("atMostOnce", alias, { kind: "value", json: encodeMemo(value, options) });
  return value;
}
