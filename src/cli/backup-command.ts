import { resolve } from "node:path";
import { adminClient, connectionFrom } from "./connection.js";
import { EXIT, UsageError } from "./exit.js";
import { GLOBAL_HELP, parseCommand } from "./options.js";

const HELP = `Usage: cairn backup DEST [--compact] [--data-dir DIR]

  Copies the running application's data into DEST without stopping it:
  one consistent snapshot (LMDB's copy of a live environment) holding every
  write acknowledged before the backup began. DEST is a folder on the
  server's machine, new or empty, outside the data directory (a relative
  DEST is resolved against the current folder); the copy is DEST/data.mdb,
  laid out as the data directory (DEST/partitions/… with several partitions).
  With several nodes the server you reach asks every node: each copies its
  own partitions and layout record to DEST on its own machine (on
  Kubernetes, a writable mount in every pod).
  To restore, stop the server, replace its data directory by DEST, start it.
  Operators only: needs a token with cairn_admin.

  --compact       leave out free pages: a smaller copy, slower to make
  --data-dir DIR  copy the data directory DIR here instead of asking a
                  server (a stopped one, or one running on this machine)

${GLOBAL_HELP}`;

export async function backupCommand(args: readonly string[]): Promise<number> {
  const options = { compact: { type: "boolean" }, "data-dir": { type: "string" } } as const;
  const { values, positionals } = parseCommand(args, options, "backup");
  if (values.help) {
    console.log(HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError(`expected one destination folder DEST, got ${positionals.length} argument(s)`, "backup");
  const destination = resolve(positionals[0]!);
  const compact = values.compact ?? false;
  const dataDir = values["data-dir"];
  let result: { path: string; bytes: number | bigint };
  if (dataDir === undefined) {
    result = await adminClient(connectionFrom(values)).backup({ destination, compact });
  } else {
    // Loaded here only: the other commands need no LMDB.
    const { BackupRefused, backupDataDir } = await import("../store/backup.js");
    try {
      result = await backupDataDir(resolve(dataDir), destination, compact);
    } catch (e) {
      if (!(e instanceof BackupRefused)) throw e;
      console.error(`cairn: ${e.message}`);
      return EXIT.failed;
    }
  }
  console.log(`cairn: backed up ${result.bytes} bytes to ${result.path}`);
  return EXIT.ok;
}
