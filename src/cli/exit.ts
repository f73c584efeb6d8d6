/**
 * The CLI's exit codes, so scripts can tell "no such task" from "typo in
 * the command" from "the server is down".
 */
export const EXIT = {
  ok: 0,
  /** Not found, refused, or (for `wait`) the task ended ABORTED or FAILED. */
  failed: 1,
  usage: 2,
  unreachable: 3,
} as const;

/** A mistake in the command line: exit 2, pointing at the help. */
export class UsageError extends Error {
  override readonly name = "UsageError";
  constructor(
    message: string,
    /** The command whose --help to suggest, e.g. "tasks list". */
    readonly command = "",
  ) {
    super(message);
  }
}
