// The `cairn` command line: starts and builds apps (init, generate, dev) and
// operates a running application over its cairn.v1 framework services.
//
//   cairn init DIR | generate | dev
//   cairn tasks list|show|wait|watch|cancel|pause|resume …
//   cairn actors get|delete TYPE ID
//   cairn schedules list|delete …
//   cairn backup DEST | export …      (see `cairn --help`)
//   cairn resize … | layout adopt …   (offline, on stopped nodes' data directories)
import { pathToFileURL } from "node:url";
import { connectionFrom, describeCallError } from "./connection.js";
import { EXIT, UsageError } from "./exit.js";
import { GLOBAL_HELP, globalValues, parseCommand, splitCommand } from "./options.js";
import { actorsCommand } from "./actors-command.js";
import { backupCommand } from "./backup-command.js";
import { exportCommand } from "./export-command.js";
import { schedulesCommand } from "./schedules-command.js";
import { tasksCommand } from "./tasks-command.js";
import { devCommand } from "./dev-command.js";
import { generateCommand } from "./generate-command.js";
import { initCommand } from "./init-command.js";
import { tokenCommand } from "./token-command.js";
import { layoutCommand, resizeCommand } from "./resize-command.js";

const HELP = `Usage: cairn <command> [options]

Develop:
  init DIR   write a new app into DIR
  generate   generate TypeScript from the project's .proto files
  dev        generate, serve, and restart on every change
  token      sign a bearer token with $CAIRN_TOKEN_SECRET

Operate a running application (cairn <group> <command>):
  tasks      durable tasks: list, show, wait, watch, cancel, pause, resume
  actors     actors: get, delete (operators)
  schedules  cron schedules: list, delete (operators)
  backup     a consistent copy of the live data (operators)
  export     actors as JSON lines per state type (operators)

Change the number of nodes (offline, every node stopped):
  resize        move partitions between the nodes' data directories
  layout adopt  write the layout records of directories made without them

Run "cairn <command> --help" or "cairn <group> <command> --help" for more.

${GLOBAL_HELP}

Exit codes: 0 ok; 1 not found, refused, or a waited or watched task did not
COMPLETE; 2 usage error; 3 cannot connect.`;

/** Runs one command line; resolves with the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const { path, rest } = splitCommand(argv, 2);
  const [group, command] = path;
  try {
    switch (group) {
      case undefined:
      case "help": {
        const { values } = parseCommand(rest, {}, "");
        console.log(HELP);
        return values.help || group === "help" ? EXIT.ok : EXIT.usage;
      }
      case "init":
      case "generate":
      case "dev":
      case "token":
      case "backup":
      case "export": {
        // These parse their whole line themselves (their options take values).
        const own = argv.filter((_, i) => i !== argv.indexOf(group));
        const run = { init: initCommand, generate: generateCommand, dev: devCommand, token: tokenCommand, backup: backupCommand, export: exportCommand }[group];
        return await run(own);
      }
      case "resize":
        return await resizeCommand(argv.filter((_, i) => i !== argv.indexOf(group)));
      case "layout":
        return await layoutCommand(command, rest);
      case "tasks":
        return await tasksCommand(command, rest);
      case "actors":
        return await actorsCommand(command, rest);
      case "schedules":
        return await schedulesCommand(command, rest);
      default:
        throw new UsageError(`unknown command group ${JSON.stringify(group)}`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`cairn: ${e.message}\nRun "cairn ${e.command ? `${e.command} ` : ""}--help" for usage.`);
      return EXIT.usage;
    }
    const { message, code } = describeCallError(e, connectionFrom(globalValues(rest)).url);
    console.error(`cairn: ${message}`);
    return code;
  }
}

// Run when executed as node src/cli/main.ts (bin/cairn.js calls main itself), not when imported by a test.
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const code = await main(process.argv.slice(2));
  // Exit now: an idle HTTP/2 session would otherwise keep the process alive.
  process.exit(code);
}
