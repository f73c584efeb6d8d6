import { create, toJsonString } from "@bufbuild/protobuf";
import { ListSchedulesResponseSchema, ScheduleInfoSchema } from "../../generated/cairn/v1/schedules_pb.js";
import { connectionFrom, schedulesClient } from "./connection.js";
import { EXIT, UsageError } from "./exit.js";
import { describeSchedule, formatScheduleTable } from "./format-schedule.js";
import { GLOBAL_HELP, parseCommand } from "./options.js";

/** `cairn schedules …`: cron schedules through the cairn.v1.Schedules service (operators). */

export const SCHEDULES_HELP = `Usage: cairn schedules <command> [options]

Commands:
  list         list cron schedules (operators: needs a token with cairn_admin)
  delete ID    delete a cron schedule; runs already started go on (operators)

${GLOBAL_HELP}`;

const HELP: Record<string, string> = {
  list: `Usage: cairn schedules list [--type TYPE] [--actor ID] [--json]

  One line per schedule: id, state type, actor, method, cron expression,
  time zone, next run, the task of the latest run, and how many runs were
  skipped because the previous one was still going. Operators only: needs a
  token with cairn_admin.
  --type TYPE  only schedules of this state type (e.g. bank.v1.Account)
  --actor ID   only schedules of this actor
  --json       print cairn.v1.ListSchedulesResponse as JSON

${GLOBAL_HELP}`,
  delete: `Usage: cairn schedules delete ID [--json]

  Deletes the schedule: it starts no further runs; runs already started go
  on. Prints what was deleted. Operators only: needs a token with
  cairn_admin. Exit 1 if there is no such schedule.
  --json  print the deleted cairn.v1.ScheduleInfo as JSON

${GLOBAL_HELP}`,
};

export async function schedulesCommand(command: string | undefined, args: readonly string[]): Promise<number> {
  if (command === undefined || command === "help") {
    const { values } = parseCommand(args, {}, "schedules");
    console.log(SCHEDULES_HELP);
    return values.help || command === "help" ? EXIT.ok : EXIT.usage;
  }
  const help = HELP[command];
  if (!help) throw new UsageError(`unknown command: schedules ${command}`, "schedules");
  const { values, positionals } = parseCommand(
    args,
    { json: { type: "boolean" }, ...(command === "list" ? { actor: { type: "string" }, type: { type: "string" } } : {}) },
    `schedules ${command}`,
  );
  if (values.help) {
    console.log(help);
    return EXIT.ok;
  }
  const client = schedulesClient(connectionFrom(values));
  const json = values.json === true;

  if (command === "list") {
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`, "schedules list");
    const v = values as { actor?: string; type?: string };
    const res = await client.list({ actorId: v.actor ?? "", stateType: v.type ?? "" });
    console.log(json ? toJsonString(ListSchedulesResponseSchema, res, { prettySpaces: 2 }) : formatScheduleTable(res.schedules));
    return EXIT.ok;
  }

  if (positionals.length !== 1) throw new UsageError(`expected one schedule ID, got ${positionals.length}`, "schedules delete");
  const scheduleId = positionals[0]!;
  // Delete answers with nothing: read the schedule first, to show what went.
  const found = (await client.list({})).schedules.find((s) => s.scheduleId === scheduleId);
  await client.delete({ scheduleId });
  const deleted = found ?? create(ScheduleInfoSchema, { scheduleId });
  console.log(json ? toJsonString(ScheduleInfoSchema, deleted, { prettySpaces: 2 }) : `deleted schedule ${describeSchedule(deleted)}`);
  return EXIT.ok;
}
