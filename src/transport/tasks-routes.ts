import type { ConnectRouter } from "@connectrpc/connect";
import { Tasks } from "../../generated/cairn/v1/tasks_pb.js";
import { EXTERNAL_CALLER } from "../runtime/context-impl.js";
import { notFound } from "../runtime/errors.js";
import { bearerTokenOf } from "./bearer-token.js";
import type { Runtime } from "../runtime/runtime.js";
import { statusName, toTaskInfo } from "./task-info.js";

/** Serves `cairn.v1.Tasks`: look up, wait for and list durable tasks. */
export function registerTaskRoutes(router: ConnectRouter, runtime: Runtime): void {
  const info = (taskId: string) => {
    const task = runtime.store.getTask(taskId);
    if (!task) throw notFound(`no task ${JSON.stringify(taskId)}`);
    return toTaskInfo(task, runtime.tasks.isRunning(taskId));
  };
  router.service(Tasks, {
    get: (req) => info(req.taskId),
    wait: async (req) => toTaskInfo(await runtime.tasks.waitFinal(req.taskId), false),
    // Task ids are unguessable, so knowing one is enough to read it; listing
    // every task is for operators.
    list: async (req, context) => {
      const bearerToken = bearerTokenOf(context.requestHeader);
      await runtime.authorizeAdmin(bearerToken === undefined ? EXTERNAL_CALLER : { ...EXTERNAL_CALLER, bearerToken });
      const status = statusName(req.status);
      const limit = req.limit || 1000;
      const tasks = [];
      for (const task of runtime.store.tasks()) {
        if (status && task.status !== status) continue;
        if (req.stateType && task.stateType !== req.stateType) continue;
        if (req.actorId && task.actorId !== req.actorId) continue;
        tasks.push(toTaskInfo(task, runtime.tasks.isRunning(task.taskId)));
        if (tasks.length >= limit) break;
      }
      return { tasks };
    },
  });
}
