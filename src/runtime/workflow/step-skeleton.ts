import type { MemoRecord } from "../../store/store.js";
import type { WorkflowContext } from "../context.js";
import { AtMostOnceFailed, AtMostOnceFailedBeforeCompleting } from "../../api/errors.js";
import { decodeMemo, type MemoOptions } from "./memo-codec.js";
import { workflowRun, type WorkflowContextImpl } from "./workflow-context.js";
import { context } from "@opentelemetry/api";
import { ATTR, INTERNAL, inSpan } from "../tracing.js";

/**
 * How a durable step is recorded, in one place: `until`, `atLeastOnce`,
 * `atMostOnce`, `sleep` and `awaitRemote` are thin helpers over it.
 */

/** A step as it opens: its run, and what an earlier run stored under its alias. */
export interface OpenedStep {
  readonly run: WorkflowContextImpl;
  readonly memo: MemoRecord | undefined;
}

/**
 * Opens step `step` under `alias`: checks `ctx` is a running workflow's,
 * parks while the task is paused (throws Cancelled once it is cancelled),
 * refuses an alias used twice in one run, and reads the step's memo.
 */
export async function openStep(ctx: WorkflowContext, step: string, alias: string): Promise<OpenedStep> {
  const run = workflowRun(ctx, step);
  await checkpointOf(run);
  run.claim(`${step}:${alias}`, () => `${step}(${JSON.stringify(alias)}) is used twice in one run: aliases must be unique`);
  return { run, memo: run.memo(step, alias) };
}

/**
 * Process control at a durable step: parks while the task is paused, throws
 * Cancelled once it is cancelled. Costs one flag check otherwise.
 */
export async function checkpointOf(run: WorkflowContextImpl): Promise<void> {
  const wait = run.runControl.check();
  if (wait) await wait;
}

/** A memoized value, decoded; undefined if the step has stored none. */
export async function memoValue<T>(memo: MemoRecord | undefined, options: MemoOptions<T> | undefined, alias: string): Promise<{ value: T } | undefined> {
  return memo?.kind === "value" ? { value: await decodeMemo(memo.json, options, alias) } : undefined;
}

/**
 * Runs a step's work (not its replay from a memo) as a span under the
 * task run's: what the step calls nests under it.
 */
export function inStep<T>(run: WorkflowContextImpl, step: string, alias: string, fn: () => Promise<T>): Promise<T> {
  const attributes = () => ({ [ATTR.step]: step, [ATTR.alias]: alias, [ATTR.taskId]: run.taskId, [ATTR.iteration]: run.iteration });
  return inSpan(step, INTERNAL, context.active(), attributes, undefined, fn);
}

/** An at-most-once start that failed or never finished (a crash) is never tried again. */
export function refuseRestart(memo: MemoRecord | undefined, alias: string): void {
  if (memo?.kind === "error") throw new AtMostOnceFailed(alias, memo.name, memo.message);
  if (memo?.kind === "started") throw new AtMostOnceFailedBeforeCompleting(alias);
}

/**
 * The at-most-once protocol: "started" is durable before `fn` runs, so a
 * crash inside it is known on the next run; a throw is stored and re-thrown
 * on every later run. Stopping mid-call leaves it "started": whether `fn`
 * did its work is unknown.
 */
export async function startAtMostOnce<T>(run: WorkflowContextImpl, step: string, alias: string, fn: () => Promise<T> | T): Promise<T> {
  await run.remember(step, alias, { kind: "started" });
  try {
    return await fn();
  } catch (e) {
    if (run.signal.aborted) throw e;
    const err = e instanceof Error ? e : new Error(String(e));
    await run.remember(step, alias, { kind: "error", name: err.name, message: err.message });
    throw e;
  }
}
