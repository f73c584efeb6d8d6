import type { DestinationStream } from "pino";

/** Fields every record has, shown in a readable line's frame rather than after it. */
const FRAME = new Set(["level", "time", "pid", "hostname", "name", "msg", "err"]);
const LABELS: Readonly<Record<number, string>> = { 10: "TRACE ", 20: "DEBUG ", 30: "", 40: "WARN ", 50: "ERROR ", 60: "FATAL " };

/**
 * A pino destination for a developer's terminal, in this process (no
 * worker thread): `cairn: msg  key=value …`, the level named unless it is
 * info, an error's stack indented beneath. Info and below go to stdout,
 * warnings and errors to stderr. So `cairn: serving on URL` stays the
 * exact line tools wait for.
 */
export function readableDestination(out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): DestinationStream {
  return {
    write(line: string): void {
      const record = JSON.parse(line) as Record<string, unknown>;
      const level = typeof record.level === "number" ? record.level : 30;
      (level >= 40 ? err : out).write(`${readableLine(record, level)}\n`);
    },
  };
}

function readableLine(record: Record<string, unknown>, level: number): string {
  const name = typeof record.name === "string" ? record.name : "cairn";
  const fields = Object.entries(record)
    .filter(([key]) => !FRAME.has(key))
    .map(([key, value]) => `${key}=${fieldText(value)}`);
  let line = `${name}: ${LABELS[level] ?? ""}${String(record.msg ?? "")}`;
  if (fields.length > 0) line += `  ${fields.join(" ")}`;
  const error = record.err as { stack?: unknown; message?: unknown } | undefined;
  const stack = typeof error?.stack === "string" ? error.stack : typeof error?.message === "string" ? error.message : undefined;
  if (stack !== undefined) line += `\n${stack.replace(/^/gm, "    ")}`;
  return line;
}

/** Plain words stay bare; anything with spaces, quotes or structure is JSON. */
function fieldText(value: unknown): string {
  if (typeof value === "string" && /^[^\s"=]+$/.test(value)) return value;
  return JSON.stringify(value) ?? String(value);
}
