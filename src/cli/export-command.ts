import { once } from "node:events";
import { createWriteStream, mkdirSync, renameSync, rmSync, type WriteStream } from "node:fs";
import { join } from "node:path";
import type { Writable } from "node:stream";
import { adminClient, connectionFrom } from "./connection.js";
import { EXIT, UsageError } from "./exit.js";
import { GLOBAL_HELP, parseCommand } from "./options.js";

const HELP = `Usage: cairn export [--state-type TYPE] [--out DIR]

  Writes actors' durable state as JSON lines, one actor a line:
  {"id": "...", "state": {...}}, the state as protobuf JSON (every field,
  proto names), in actor id order (with several nodes, every node's actors,
  one node after another). Actors are read a page at a time while
  the server runs, so each line is consistent but the whole is not one
  snapshot: export from a server started on a backup for that.
  Operators only: needs a token with cairn_admin.

  --state-type TYPE  only this state type, e.g. bank.v1.Account
  --out DIR          write DIR/<TYPE>.jsonl per state type that has actors
                     (DIR is created; files are replaced once complete).
                     Without it the lines go to stdout, which needs
                     --state-type.

${GLOBAL_HELP}`;

export async function exportCommand(args: readonly string[]): Promise<number> {
  const options = { "state-type": { type: "string" }, out: { type: "string" } } as const;
  const { values, positionals } = parseCommand(args, options, "export");
  if (values.help) {
    console.log(HELP);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected ${JSON.stringify(positionals[0])}`, "export");
  const stateType = values["state-type"] ?? "";
  if (values.out === undefined && stateType === "") throw new UsageError("to stdout, name one --state-type; or pass --out DIR for every type", "export");
  const files = values.out === undefined ? undefined : new ExportFiles(values.out);
  let count = 0;
  try {
    for await (const actor of adminClient(connectionFrom(values)).export({ stateType })) {
      const out = files ? files.of(actor.stateType) : process.stdout;
      await writeLine(out, `{"id":${JSON.stringify(actor.actorId)},"state":${actor.stateJson}}\n`);
      count++;
    }
    await files?.complete();
  } catch (e) {
    files?.abandon();
    throw e;
  }
  if (files) console.error(`cairn: exported ${count} actor(s) to ${files.written().join(", ") || "no file (no actors)"}`);
  return EXIT.ok;
}

/** Writes `line`, waiting while the stream's buffer is full: memory stays bounded however many actors come. */
async function writeLine(out: Writable, line: string): Promise<void> {
  if (!out.write(line)) await once(out, "drain");
}

/** One `<type>.jsonl` per state type, written under a temporary name and renamed once the export completed. */
class ExportFiles {
  readonly #streams = new Map<string, WriteStream>();

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  of(stateType: string): WriteStream {
    let stream = this.#streams.get(stateType);
    if (!stream) {
      stream = createWriteStream(this.#partial(stateType));
      this.#streams.set(stateType, stream);
    }
    return stream;
  }

  written(): string[] {
    return [...this.#streams.keys()].map((t) => this.#final(t));
  }

  async complete(): Promise<void> {
    for (const [stateType, stream] of this.#streams) {
      stream.end();
      await once(stream, "close");
      renameSync(this.#partial(stateType), this.#final(stateType));
    }
  }

  abandon(): void {
    for (const [stateType, stream] of this.#streams) {
      stream.destroy();
      rmSync(this.#partial(stateType), { force: true });
    }
  }

  #final(stateType: string): string {
    return join(this.dir, `${stateType}.jsonl`);
  }

  #partial(stateType: string): string {
    return `${this.#final(stateType)}.partial`;
  }
}
