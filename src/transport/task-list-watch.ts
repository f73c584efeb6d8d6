import { toBinary } from "@bufbuild/protobuf";
import { ListTasksResponseSchema, type ListTasksResponse } from "../../generated/cairn/v1/tasks_pb.js";
import type { TaskQueries } from "../runtime/tasks/task-queries.js";

/** The least time between two pages of one `Tasks.WatchList` stream: a burst of 100,000 spawns sends a few pages, not 100,000. */
export const WATCH_LIST_INTERVAL_MS = 250;

/**
 * `Tasks.WatchList`: the page now, then again after the task table changes,
 * at most once per WATCH_LIST_INTERVAL_MS and only when the page differs.
 * Pull-based like `watchTask`: a change only marks the page stale, so a
 * slow reader holds nothing queued.
 */
export async function* watchTaskList(
  tasks: TaskQueries,
  page: () => ListTasksResponse,
  signal: AbortSignal | undefined,
): AsyncGenerator<ListTasksResponse, void, undefined> {
  let changed = true;
  let wake: (() => void) | undefined;
  const unsubscribe = tasks.onAnyChange(() => {
    changed = true;
    wake?.();
  });
  const onAbort = () => wake?.();
  signal?.addEventListener("abort", onAbort, { once: true });
  let last: Uint8Array | undefined;
  try {
    while (!signal?.aborted) {
      if (!changed) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        continue;
      }
      changed = false;
      const response = page();
      const bytes = toBinary(ListTasksResponseSchema, response);
      if (!last || Buffer.compare(bytes, last) !== 0) {
        last = bytes;
        yield response;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, WATCH_LIST_INTERVAL_MS);
        wake = () => {
          // Only an abort cuts the pause short; changes wait for it.
          if (signal?.aborted) {
            clearTimeout(timer);
            resolve();
          }
        };
      });
      wake = undefined;
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    unsubscribe();
  }
}
