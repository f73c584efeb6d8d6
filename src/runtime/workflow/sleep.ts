import type { WorkflowContext } from "../context.js";
import { FatalError } from "../../api/errors.js";
import { wakeTime, type Duration } from "../duration.js";
import { openStep } from "./step-skeleton.js";

/**
 * A durable timer: returns once `duration` has passed since this step was
 * first reached (or at the given Date). The wake time is stored under
 * `alias` the first time; until it comes, the run is suspended (nothing
 * stays in memory) and the workflow re-runs from the top at that time, its
 * memoized steps returning at once. Survives restarts and fires once.
 */
export async function sleep(alias: string, ctx: WorkflowContext, duration: Duration): Promise<void> {
  const { run, memo } = await openStep(ctx, "sleep", alias);
  let wakeAt: number;
  if (memo?.kind === "value") {
    wakeAt = Number(memo.json);
    if (!Number.isFinite(wakeAt)) throw new FatalError(`the stored wake time of sleep(${JSON.stringify(alias)}) is corrupt`);
  } else {
    try {
      wakeAt = wakeTime(duration, run.runtime.clock.now());
    } catch (e) {
      // A malformed duration is a bug in the workflow: retrying cannot fix it.
      throw new FatalError(`sleep(${JSON.stringify(alias)}): ${e instanceof Error ? e.message : String(e)}`);
    }
    // Durable before suspending: a re-run must find the same wake time.
    await run.remember("sleep", alias, { kind: "value", json: String(wakeAt) });
  }
  if (run.runtime.clock.now() < wakeAt) throw run.suspend(wakeAt);
}
