import type { ConnectRouter } from "@connectrpc/connect";
import { Tasks, TaskStatus } from "../../generated/cairn/v1/tasks_pb.js";
import { notFound } from "../api/errors.js";
import { externalCallerOf } from "./bearer-token.js";
import type { Runtime } from "../runtime/runtime.js";
import type { TaskQueries, TaskRecord } from "../runtime/tasks/task-queries.js";
import { toTaskInfo } from "./task-info.js";
import { taskStatusName } from "../api/task-status.js";
import { watchTask } from "./task-watch.js";
import { PeerLists } from "./peer-lists.js";

/**
 * Serves `cairn.v1.Tasks`: look up, wait for, list, cancel, pause and
 * resume durable tasks. With several nodes, `peers` adds the other nodes'
 * tasks to a list (calls by id reach the task's node: forwarding.ts).
 */
export function registerTaskRoutes(router: ConnectRouter, runtime: Runtime, tasks: TaskQueries, peers?: PeerLists): void {
  /** The task, if the caller may read it (DESIGN.md §7); NOT_FOUND if there is none. */
  const readable = async (taskId: string, requestHeader: Headers) => {
    const task = tasks.get(taskId);
    if (!task) throw notFound(`no task ${JSON.stringify(taskId)}`);
    await runtime.authorizeTaskRead(task, externalCallerOf(requestHeader));
    return task;
  };
  const operator = async (requestHeader: Headers) => {
    await runtime.authorizeAdmin(externalCallerOf(requestHeader));
  };
  // Process control is for operators too.
  const control = async (taskId: string, requestHeader: Headers, act: (taskId: string) => Promise<TaskRecord>) => {
    await operator(requestHeader);
    return toTaskInfo(tasks.summary(await act(taskId)));
  };
  router.service(Tasks, {
    get: async (req, context) => toTaskInfo(tasks.describe(await readable(req.taskId, context.requestHeader))),
    wait: async (req, context) => {
      await readable(req.taskId, context.requestHeader);
      return toTaskInfo(tasks.describe(await tasks.waitFinal(req.taskId, context.signal)));
    },
    watch: async function* (req, context) {
      await readable(req.taskId, context.requestHeader);
      yield* watchTask(tasks, req.taskId, context.signal);
    },
    // Listing every task is for operators.
    list: async (req, context) => {
      await operator(context.requestHeader);
      const status = req.status === TaskStatus.UNSPECIFIED ? undefined : taskStatusName(req.status);
      // A status no task can have matches none.
      if (req.status !== TaskStatus.UNSPECIFIED && status === undefined) return { tasks: [] };
      const limit = req.limit || 1000;
      const after = req.pageToken === "" ? undefined : req.pageToken;
      const local = tasks.list({ stateType: req.stateType, actorId: req.actorId, status, limit, after }).map(toTaskInfo);
      // Every node pages after the same token; the merged page is the first `limit` of theirs.
      const found = !peers || PeerLists.fromPeer(context.requestHeader) ? local : await peers.tasks(req, context.requestHeader, local, limit);
      // The token is the page's last id: the next page starts after it (id-order.ts).
      return { tasks: found, nextPageToken: found.length === limit ? found.at(-1)!.taskId : "" };
    },
    cancel: (req, context) => control(req.taskId, context.requestHeader, (id) => tasks.control(id, "cancel")),
    pause: (req, context) => control(req.taskId, context.requestHeader, (id) => tasks.control(id, "pause")),
    resume: (req, context) => control(req.taskId, context.requestHeader, (id) => tasks.control(id, "resume")),
  });
}
