import { toBinary } from "@bufbuild/protobuf";
import { ListTasksResponseSchema, type ListTasksResponse } from "../../generated/cairn/v1/tasks_pb.js";
import { whenStale, type Subscribe } from "./when-stale.js";

/** The least time between two pages of one `Tasks.WatchList` stream: a burst of 100,000 spawns sends a few pages, not 100,000. */
export const WATCH_LIST_INTERVAL_MS = 250;

/**
 * `Tasks.WatchList`: the page now, then again after the task table changes
 * (this node's, or with several nodes any node's: peer-lists.ts), at most
 * once per WATCH_LIST_INTERVAL_MS and only when the page differs. `page`
 * answers undefined while it cannot be made yet (a peer's first page is on
 * its way), and throws when it cannot be made at all.
 */
export async function* watchTaskList(
  subscribe: Subscribe,
  page: () => ListTasksResponse | undefined,
  signal: AbortSignal | undefined,
): AsyncGenerator<ListTasksResponse, void, undefined> {
  let last: Uint8Array | undefined;
  for await (const _ of whenStale(subscribe, signal, WATCH_LIST_INTERVAL_MS)) {
    const response = page();
    if (response === undefined) continue;
    const bytes = toBinary(ListTasksResponseSchema, response);
    if (!last || Buffer.compare(bytes, last) !== 0) {
      last = bytes;
      yield response;
    }
  }
}
