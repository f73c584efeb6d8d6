import type { ConnectRouter } from "@connectrpc/connect";
import { Tasks, TaskStatus } from "../../generated/cairn/v1/tasks_pb.js";
import { notFound } from "../api/errors.js";
import { externalCallerOf } from "./bearer-token.js";
import type { Runtime } from "../runtime/runtime.js";
import type { TaskRecord } from "../store/store.js";
import { describeTask, toTaskInfo } from "./task-info.js";
import { watchTask } from "./task-watch.js";

/** Serves `cairn.v1.Tasks`: look up, wait for, list, cancel, pause and resume durable tasks. */
export function registerTaskRoutes(router: ConnectRouter, runtime: Runtime): void {
  /** The task, if the caller may read it (DESIGN.md §7); NOT_FOUND if there is none. */
  const readable = async (taskId: string, requestHeader: Headers) => {
    const task = runtime.store.getTask(taskId);
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
    const task = await act(taskId);
    return toTaskInfo(task, runtime.tasks.isRunning(taskId));
  };
  router.service(Tasks, {
    get: async (req, context) => describeTask(runtime, await readable(req.taskId, context.requestHeader)),
    wait: async (req, context) => {
      await readable(req.taskId, context.requestHeader);
      return describeTask(runtime, await runtime.tasks.waitFinal(req.taskId, context.signal));
    },
    watch: async function* (req, context) {
      await readable(req.taskId, context.requestHeader);
      yield* watchTask(runtime, req.taskId, context.signal);
    },
    // Listing every task is for operators.
    list: async (req, context) => {
      await operator(context.requestHeader);
      const limit = req.limit || 1000;
      const tasks = [];
      for (const task of runtime.store.tasks()) {
        if (req.stateType && task.stateType !== req.stateType) continue;
        if (req.actorId && task.actorId !== req.actorId) continue;
        // Filter on the status as shown: RUNNING is a scheduled task running now.
        const shown = toTaskInfo(task, runtime.tasks.isRunning(task.taskId));
        if (req.status !== TaskStatus.UNSPECIFIED && shown.status !== req.status) continue;
        tasks.push(shown);
        if (tasks.length >= limit) break;
      }
      return { tasks };
    },
    cancel: (req, context) => control(req.taskId, context.requestHeader, (id) => runtime.tasks.cancel(id)),
    pause: (req, context) => control(req.taskId, context.requestHeader, (id) => runtime.tasks.pause(id)),
    resume: (req, context) => control(req.taskId, context.requestHeader, (id) => runtime.tasks.resume(id)),
  });
}
