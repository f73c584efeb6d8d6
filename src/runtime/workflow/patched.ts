import type { WorkflowContext } from "../context.js";
import { checkpointOf } from "./step-skeleton.js";
import { workflowRun } from "./workflow-context.js";

/**
 * A branch point for changing a workflow while instances of it are in
 * flight: true for instances that reach this point on code that has the
 * patch, false for instances whose earlier runs (on the old code) already
 * recorded steps beyond it. The answer is stored with the instance, so
 * every later run (a retry, a restart, another deploy) takes the same
 * branch. Decided per Loop iteration: a new iteration takes the new branch.
 *
 *   if (await patched("charge-v2", ctx)) await atLeastOnce("charge-v2", ctx, chargeWithTax);
 *   else await atLeastOnce("charge", ctx, charge);
 *
 * Retire a patch once no instance that started before it is in flight
 * (README, "Changing a workflow").
 */
export async function patched(id: string, ctx: WorkflowContext): Promise<boolean> {
  const run = workflowRun(ctx, "patched");
  await checkpointOf(run);
  return run.patched(id);
}
