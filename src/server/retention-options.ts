import { parseDuration } from "../runtime/duration.js";
import type { RetentionPolicy } from "../runtime/retention-sweeper.js";

/** How long to keep a kind of record: a duration ("7d", "12h", ms), or false to keep it forever. */
export type RetentionPeriod = string | number | false;

export interface RetentionOptions {
  /**
   * Ended tasks (completed, aborted, failed, cancelled) with their memos,
   * events and progress. Default CAIRN_TASK_RETENTION, else "7d".
   */
  readonly tasks?: RetentionPeriod;
  /**
   * Idempotency records: a retry after this runs the call again. Default
   * CAIRN_IDEMPOTENCY_RETENTION, else "1d".
   */
  readonly idempotency?: RetentionPeriod;
}

export const DEFAULT_TASK_RETENTION = "7d";
export const DEFAULT_IDEMPOTENCY_RETENTION = "1d";

/** The option, else the environment variable ("off" keeps forever), else the default; throws on a bad duration. */
export function retentionPolicy(options: RetentionOptions = {}, env: NodeJS.ProcessEnv = process.env): RetentionPolicy {
  return {
    tasksMs: periodMs("retention.tasks", options.tasks, "CAIRN_TASK_RETENTION", DEFAULT_TASK_RETENTION, env),
    idempotencyMs: periodMs("retention.idempotency", options.idempotency, "CAIRN_IDEMPOTENCY_RETENTION", DEFAULT_IDEMPOTENCY_RETENTION, env),
  };
}

function periodMs(
  option: string,
  given: RetentionPeriod | undefined,
  variable: string,
  fallback: string,
  env: NodeJS.ProcessEnv,
): number | undefined {
  const fromEnv = env[variable];
  const [value, source] =
    given !== undefined ? [given, option] : fromEnv !== undefined && fromEnv !== "" ? [fromEnv, variable] : [fallback, option];
  if (value === false || value === "off") return undefined;
  try {
    return parseDuration(value);
  } catch (e) {
    throw new RangeError(`${source}: ${(e as Error).message}, or false/"off" to keep records forever`);
  }
}
