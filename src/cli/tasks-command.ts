import { create, toJsonString } from "@bufbuild/protobuf";
import { ListTasksResponseSchema, TaskInfoSchema, TaskStatus, type TaskInfo } from "../../generated/cairn/v1/tasks_pb.js";
import { connectionFrom, tasksClient } from "./connection.js";
import { EXIT, UsageError } from "./exit.js";
import { TASK_STATUS, taskStatusNamed } from "../api/task-status.js";
import { formatTask, formatTaskTable, type TaskPayloads } from "./format-task.js";
import { AppSchema } from "./app-schema.js";
import { GLOBAL_HELP, parseCommand } from "./options.js";
import { renderWatch } from "./watch-task.js";

/** `cairn tasks …`: durable tasks through the cairn.v1.Tasks service. */

export const TASKS_HELP = `Usage: cairn tasks <command> [options]

Commands:
  list         list tasks (operators: needs a token with cairn_admin)
  show ID      one task: status, iteration, attempt, run at, errors, result,
               progress and history
  wait ID      wait until a task ends; exit 1 if it ended ABORTED or FAILED
  watch ID     show a task's progress live until it ends; exits like wait
  cancel ID    end a task as CANCELLED (operators)
  pause ID     hold a task: it does not run, or parks at its next checkpoint (operators)
  resume ID    let a paused task go on (operators)

${GLOBAL_HELP}`;

const HELP: Record<string, string> = {
  list: `Usage: cairn tasks list [--state STATE] [--actor ID] [--type TYPE] [--limit N] [--json]

  --state STATE  scheduled | running | completed | aborted | failed
  --actor ID     only tasks of this actor
  --type TYPE    only tasks of this state type (e.g. bank.v1.Account)
  --limit N      at most N tasks (default 1000)
  --json         print cairn.v1.ListTasksResponse as JSON

${GLOBAL_HELP}`,
  show: `Usage: cairn tasks show ID [--json]

  Shows the task, its latest progress and its history (the newest 100
  events: spawned, started, step, retried, paused, resumed, progress, ...).
  The result and a declared error print as JSON with the app's field names,
  read through the server's reflection (by field number if it has none).
  Exit 1 if there is no such task.
  --json  print cairn.v1.TaskInfo as JSON (response as base64; response_type names its type)

${GLOBAL_HELP}`,
  wait: `Usage: cairn tasks wait ID [--json]

  Waits until the task ends, then shows it. Exit 0 if it COMPLETED, 1 if it
  ended ABORTED or FAILED or does not exist.
  --json  print cairn.v1.TaskInfo as JSON

${GLOBAL_HELP}`,
  watch: `Usage: cairn tasks watch ID [--json]

  Shows the task's progress as it changes (location, a bar for the fraction,
  the time left) until it ends, then the task as "tasks show" prints it. On a
  terminal one line is updated in place; otherwise a line per change.
  Exit 0 if it COMPLETED, 1 if it ended otherwise or does not exist.
  --json  print each cairn.v1.TaskInfo as one line of JSON

${GLOBAL_HELP}`,
};

const CONTROL_HELP = (verb: string, what: string) => `Usage: cairn tasks ${verb} ID [--json]

  ${what} Operators only: needs a token with cairn_admin.
  Exit 1 if there is no such task or it has already ended.
  --json  print cairn.v1.TaskInfo as JSON

${GLOBAL_HELP}`;
HELP.cancel = CONTROL_HELP("cancel", "Ends the task as CANCELLED; a running workflow's ctx.signal fires.");
HELP.pause = CONTROL_HELP("pause", "Holds the task (PAUSED) until resumed; a running workflow parks at its next checkpoint.");
HELP.resume = CONTROL_HELP("resume", "Lets a paused task go on.");

export async function tasksCommand(command: string | undefined, args: readonly string[]): Promise<number> {
  if (command === undefined || command === "help") {
    const { values } = parseCommand(args, {}, "tasks");
    console.log(TASKS_HELP);
    return values.help || command === "help" ? EXIT.ok : EXIT.usage;
  }
  const help = HELP[command];
  if (!help) throw new UsageError(`unknown command: tasks ${command}`, "tasks");
  const { values, positionals } = parseCommand(
    args,
    {
      json: { type: "boolean" },
      ...(command === "list"
        ? { state: { type: "string" }, actor: { type: "string" }, type: { type: "string" }, limit: { type: "string" } }
        : {}),
    },
    `tasks ${command}`,
  );
  if (values.help) {
    console.log(help);
    return EXIT.ok;
  }
  const connection = connectionFrom(values);
  const client = tasksClient(connection);
  const json = values.json === true;

  if (command === "list") {
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`, "tasks list");
    const v = values as { state?: string; actor?: string; type?: string; limit?: string };
    const status = v.state === undefined ? TaskStatus.UNSPECIFIED : taskStatusNamed(v.state.toLowerCase());
    if (status === undefined) {
      throw new UsageError(`--state must be one of ${Object.keys(TASK_STATUS).join(", ")}, not ${JSON.stringify(v.state)}`, "tasks list");
    }
    const limit = v.limit === undefined ? 0 : Number(v.limit);
    if (v.limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 0xffff_ffff)) {
      throw new UsageError(`--limit must be a positive whole number, not ${JSON.stringify(v.limit)}`, "tasks list");
    }
    // Pages are bounded (and end early on a sparse filter): follow them to the limit, default 1,000.
    const want = limit || 1000;
    const res = create(ListTasksResponseSchema);
    do {
      const page = await client.list({ status, actorId: v.actor ?? "", stateType: v.type ?? "", limit: want - res.tasks.length, pageToken: res.nextPageToken });
      res.tasks.push(...page.tasks);
      res.nextPageToken = page.nextPageToken;
    } while (res.nextPageToken !== "" && res.tasks.length < want);
    res.nextPageToken = "";
    console.log(json ? toJsonString(ListTasksResponseSchema, res, { prettySpaces: 2 }) : formatTaskTable(res.tasks));
    return EXIT.ok;
  }

  if (positionals.length !== 1) throw new UsageError(`expected one task ID, got ${positionals.length}`, `tasks ${command}`);
  const taskId = positionals[0]!;
  const schema = new AppSchema(connection);
  const payloads = (info: TaskInfo) => payloadsOf(schema, info);
  const print = async (info: TaskInfo) =>
    console.log(json ? toJsonString(TaskInfoSchema, info, { prettySpaces: 2 }) : formatTask(info, Date.now(), await payloads(info)));
  if (command === "show") {
    await print(await client.get({ taskId }));
    return EXIT.ok;
  }
  if (command === "cancel" || command === "pause" || command === "resume") {
    await print(await client[command]({ taskId }));
    return EXIT.ok;
  }
  if (command === "watch") {
    const last = await renderWatch(client.watch({ taskId }), process.stdout, json, payloads);
    return last?.status === TaskStatus.COMPLETED ? EXIT.ok : EXIT.failed;
  }
  const info = await client.wait({ taskId });
  await print(info);
  return info.status === TaskStatus.COMPLETED ? EXIT.ok : EXIT.failed;
}

/** The task's result and declared error as JSON with the application's field names. */
async function payloadsOf(schema: AppSchema, info: TaskInfo): Promise<TaskPayloads> {
  return {
    result: info.status === TaskStatus.COMPLETED ? await schema.render(info.responseType, info.response) : undefined,
    error: info.error ? await schema.render(info.error.typeName, info.error.value) : undefined,
  };
}
