import type { ConnectRouter } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { ListTasksResponseSchema, Tasks, TaskStatus, type ListTasksRequest, type ListTasksResponse } from "../../generated/cairn/v1/tasks_pb.js";
import { notFound } from "../api/errors.js";
import { externalCallerOf } from "./bearer-token.js";
import type { Runtime } from "../runtime/runtime.js";
import type { TaskQueries, TaskRecord } from "../runtime/tasks/task-queries.js";
import { toTaskInfo } from "./task-info.js";
import { taskStatusName } from "../api/task-status.js";
import { watchTask } from "./task-watch.js";
import { watchTaskList } from "./task-list-watch.js";
import { PeerLists } from "./peer-lists.js";

/** The most tasks one List page carries (and the default): bounds what one call holds. */
export const MAX_LIST_LIMIT = 1000;

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
    await runtime.gatekeeper.authorizeTaskRead(task, externalCallerOf(requestHeader));
    return task;
  };
  const operator = async (requestHeader: Headers) => {
    await runtime.gatekeeper.authorizeAdmin(externalCallerOf(requestHeader));
  };
  // Process control is for operators too.
  const control = async (taskId: string, requestHeader: Headers, act: (taskId: string) => Promise<TaskRecord>) => {
    await operator(requestHeader);
    return toTaskInfo(tasks.summary(await act(taskId)));
  };
  // A single task's view carries its request, typed by the method's input.
  const requestTypeOf = (task: TaskRecord) =>
    runtime.specs.find((s) => s.typeName === task.stateType)?.methods[task.method]?.desc.input.typeName ?? "";
  const page = (req: ListTasksRequest): ListTasksResponse => {
    const status = req.status === TaskStatus.UNSPECIFIED ? undefined : taskStatusName(req.status);
    // A status no task can have matches none.
    if (req.status !== TaskStatus.UNSPECIFIED && status === undefined) return create(ListTasksResponseSchema);
    const found = tasks.list({
      stateType: req.stateType,
      actorId: req.actorId,
      method: localMethodName(runtime, req.stateType, req.method),
      status,
      limit: listLimit(req),
      after: req.pageToken || undefined,
      newestFirst: req.newestFirst,
    });
    return create(ListTasksResponseSchema, { tasks: found.views.map((v) => toTaskInfo(v)), nextPageToken: found.next ?? "" });
  };
  router.service(Tasks, {
    get: async (req, context) => {
      const task = await readable(req.taskId, context.requestHeader);
      return toTaskInfo(tasks.describe(task), requestTypeOf(task));
    },
    wait: async (req, context) => {
      await readable(req.taskId, context.requestHeader);
      return toTaskInfo(tasks.describe(await tasks.waitFinal(req.taskId, context.signal)));
    },
    watch: async function* (req, context) {
      await readable(req.taskId, context.requestHeader);
      yield* watchTask(tasks, req.taskId, context.signal, requestTypeOf);
    },
    // Listing every task is for operators.
    list: async (req, context) => {
      await operator(context.requestHeader);
      const local = page(req);
      // Every node pages after the same token; the merged page keeps what all of them have looked at (id-order.ts).
      return !peers || PeerLists.fromPeer(context.requestHeader) ? local : peers.tasks(req, context.requestHeader, local, listLimit(req));
    },
    // Every node's tasks: this node's changes and each peer's own WatchList (peer-lists.ts).
    watchList: async function* (req, context) {
      await operator(context.requestHeader);
      const localChanges = (notify: () => void) => tasks.onAnyChange(notify);
      if (!peers || PeerLists.fromPeer(context.requestHeader)) return yield* watchTaskList(localChanges, () => page(req), context.signal);
      const watch = peers.taskWatch(req, context.requestHeader, () => page(req), localChanges, listLimit(req));
      yield* watchTaskList(watch.subscribe, watch.page, context.signal);
    },
    cancel: (req, context) => control(req.taskId, context.requestHeader, (id) => tasks.control(id, "cancel")),
    pause: (req, context) => control(req.taskId, context.requestHeader, (id) => tasks.control(id, "pause")),
    resume: (req, context) => control(req.taskId, context.requestHeader, (id) => tasks.control(id, "resume")),
  });
}

/** A page's size: `limit`, at most (and by default) MAX_LIST_LIMIT. */
function listLimit(req: ListTasksRequest): number {
  return Math.min(req.limit || MAX_LIST_LIMIT, MAX_LIST_LIMIT);
}

/** A method filter as tasks store it: the local name, whether given so or as the RPC name. */
function localMethodName(runtime: Runtime, stateType: string, method: string): string | undefined {
  if (method === "") return undefined;
  const specs = stateType === "" ? runtime.specs : runtime.specs.filter((s) => s.typeName === stateType);
  for (const spec of specs) {
    const found = Object.values(spec.methods).find((m) => m.name === method || m.desc.name === method);
    if (found) return found.name;
  }
  return method;
}
