import { toBinary } from "@bufbuild/protobuf";
import { TaskInfoSchema, type TaskInfo } from "../../generated/cairn/v1/tasks_pb.js";
import { notFound } from "../api/errors.js";
import { isFinal } from "../runtime/tasks/task-record.js";
import type { TaskQueries, TaskRecord } from "../runtime/tasks/task-queries.js";
import { toTaskInfo } from "./task-info.js";
import { whenStale } from "./when-stale.js";

/**
 * `Tasks.Watch`: the task now, then again on each change of its record,
 * history or progress, until it has ended. Pull-based (when-stale.ts): the
 * task is described when the subscriber asks for the next update, so a
 * slow one skips to the newest and holds nothing queued.
 */
export async function* watchTask(
  tasks: TaskQueries,
  taskId: string,
  signal: AbortSignal | undefined,
  requestTypeOf: (task: TaskRecord) => string,
): AsyncGenerator<TaskInfo, void, undefined> {
  if (!tasks.get(taskId)) throw notFound(`no task ${JSON.stringify(taskId)}`);
  let last: Uint8Array | undefined;
  for await (const _ of whenStale((notify) => tasks.subscribe(taskId, notify), signal)) {
    // Gone only once ended and past retention; a watch ends at the end, so only by a race.
    const task = tasks.get(taskId);
    if (!task) throw notFound(`no task ${JSON.stringify(taskId)}`);
    const info = toTaskInfo(tasks.describe(task), requestTypeOf(task));
    const bytes = toBinary(TaskInfoSchema, info);
    if (!last || Buffer.compare(bytes, last) !== 0) {
      last = bytes;
      yield info;
    }
    if (isFinal(task)) return;
  }
}
