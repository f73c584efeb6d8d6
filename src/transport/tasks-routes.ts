import type { ConnectRouter } from "@connectrpc/connect";
import { Tasks, TaskStatus } from "../../generated/cairn/v1/tasks_pb.js";
import { notFound } from "../runtime/errors.js";
import { externalCallerOf } from "./bearer-token.js";
import type { Runtime } from "../runtime/runtime.js";
import type { TaskRecord } from "../store/store.js";
import { describeTask, toTaskInfo } from "./task-info.js";
import { watchTask } from "./task-watch.js";

/** Serves `cairn.v1.Tasks`: look up, wait for, list, cancel, pause and resume durable tasks. */
export function registerTaskRoutes(router: ConnectRouter, runtime: Runtime): void {
  const info = (taskId: string) => {
    const task = runtime.store.getTask(taskId);
    if (!task) throw notFound(`no task ${JSON.stringify(taskId)}`);
    return describeTask(runtime, task);
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
    get: (req) => info(req.taskId),
    wait: async (req, context) => describeTask(runtime, await runtime.tasks.waitFinal(req.taskId, context.signal)),
    // Like get: knowing the id is enough.
    watch: (req, context) => watchTask(runtime, req.taskId, context.signal),
    // Task ids are unguessable, so knowing one is enough to read it; listing
    // every task is for operators.
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
