import { toJsonString } from "@bufbuild/protobuf";
import { DeleteActorResponseSchema, GetActorResponseSchema } from "../../generated/cairn/v1/actors_pb.js";
import { actorsClient, connectionFrom } from "./connection.js";
import { EXIT, UsageError } from "./exit.js";
import { GLOBAL_HELP, parseCommand } from "./options.js";

/** `cairn actors …`: actors' state through the cairn.v1.Actors service (operators). */

export const ACTORS_HELP = `Usage: cairn actors <command> [options]

Commands:
  get TYPE ID     an actor's durable state as JSON (operators: needs a token with cairn_admin)
  delete TYPE ID  deletes an actor, its cron schedules and its unfinished tasks (operators)

${GLOBAL_HELP}`;

const HELP: Record<string, string> = {
  get: `Usage: cairn actors get TYPE ID [--json]

  Prints the actor's durable state as protobuf JSON (every field, proto
  names), e.g. cairn actors get bank.v1.Account alice. Operators only:
  needs a token with cairn_admin. Exit 1 if the state type is not served
  or the actor does not exist.
  --json  print cairn.v1.GetActorResponse (the state JSON and its version)

${GLOBAL_HELP}`,
  delete: `Usage: cairn actors delete TYPE ID [--json]

  Deletes the actor in one commit: its state, its cron schedules, and its
  tasks that have not ended (CANCELLED). Its ended tasks and idempotency
  records stay until retention removes them; a constructor may create it
  again. Operators only: needs a token with cairn_admin. Exit 1 if the
  state type is not served or the actor does not exist.
  --json  print cairn.v1.DeleteActorResponse (cancelled tasks, deleted schedules)

${GLOBAL_HELP}`,
};

export async function actorsCommand(command: string | undefined, args: readonly string[]): Promise<number> {
  if (command === undefined || command === "help") {
    const { values } = parseCommand(args, {}, "actors");
    console.log(ACTORS_HELP);
    return values.help || command === "help" ? EXIT.ok : EXIT.usage;
  }
  const help = HELP[command];
  if (!help) throw new UsageError(`unknown command: actors ${command}`, "actors");
  const { values, positionals } = parseCommand(args, { json: { type: "boolean" } }, `actors ${command}`);
  if (values.help) {
    console.log(help);
    return EXIT.ok;
  }
  if (positionals.length !== 2) {
    throw new UsageError(`expected a state TYPE and an actor ID, got ${positionals.length} argument(s)`, `actors ${command}`);
  }
  const [stateType, actorId] = positionals as [string, string];
  const client = actorsClient(connectionFrom(values));
  if (command === "delete") {
    const deleted = await client.delete({ stateType, actorId });
    if (values.json) {
      console.log(toJsonString(DeleteActorResponseSchema, deleted, { prettySpaces: 2 }));
    } else {
      const tasks = deleted.cancelledTaskIds.length === 0 ? "no unfinished tasks" : `cancelled tasks ${deleted.cancelledTaskIds.join(", ")}`;
      const schedules = deleted.deletedScheduleIds.length === 0 ? "no schedules" : `deleted schedules ${deleted.deletedScheduleIds.join(", ")}`;
      console.log(`deleted ${stateType} ${JSON.stringify(actorId)} (${tasks}; ${schedules})`);
    }
    return EXIT.ok;
  }
  const res = await client.get({ stateType, actorId });
  if (values.json) {
    console.log(toJsonString(GetActorResponseSchema, res, { prettySpaces: 2 }));
  } else {
    // Re-indented for reading; the server sends it compact.
    console.log(JSON.stringify(JSON.parse(res.stateJson), null, 2));
  }
  return EXIT.ok;
}
