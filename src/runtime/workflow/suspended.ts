/**
 * The internal signal a workflow throws to stop this run and be re-run from
 * the top: at `until` (by `sleep`, while its timer has not fired), or, with
 * no time, when a state an `until` read changes. It is not
 * a failure: the task is re-scheduled without counting an attempt. It is an
 * Error so that a stray `catch (e: Error)` at least sees a message telling
 * it to re-throw; the run records the suspension anyway (see
 * WorkflowContextImpl.suspend), so swallowing it cannot skip the wait.
 */
export class Suspended extends Error {
  override readonly name: string = "Suspended";
  constructor(readonly until: number | undefined) {
    super(
      `the workflow is suspended ${until === undefined ? "until a state its until() read changes" : `until ${new Date(until).toISOString()} (a durable sleep)`}: ` +
        `this is not an error; do not catch it, or re-throw it`,
    );
  }
}
