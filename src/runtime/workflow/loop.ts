/**
 * Returned from a workflow: run it again (at `when`, or at once) as the next
 * iteration, with `ctx.iteration + 1` and fresh step aliases.
 */
export class Loop {
  readonly when: Date | undefined;
  constructor(options: { when?: Date | number } = {}) {
    this.when = options.when === undefined ? undefined : new Date(options.when);
  }
}
