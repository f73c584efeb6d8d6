import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "./exit.js";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Options every command takes, wherever they appear on the line. */
export const GLOBAL_OPTIONS = {
  url: { type: "string" },
  token: { type: "string" },
  ca: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const satisfies Options;

export const GLOBAL_HELP = `Global options:
  --url URL      the application (default $CAIRN_URL, else http://127.0.0.1:9991)
  --token TOKEN  bearer token sent with every call (default $CAIRN_TOKEN)
  --ca FILE      CA certificate (PEM) to trust for an https URL (default $CAIRN_CA)
  -h, --help     show help for any command`;

/** Global options that take a value, so the word after them is not a command. */
const TAKES_VALUE = new Set(["--url", "--token", "--ca"]);

/** Splits the command words (e.g. ["tasks", "list"]) from everything else. */
export function splitCommand(argv: readonly string[], words: number): { path: string[]; rest: string[] } {
  const path: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      rest.push(...argv.slice(i));
      break;
    }
    if (TAKES_VALUE.has(arg)) {
      rest.push(arg);
      if (i + 1 < argv.length) rest.push(argv[++i]!);
    } else if (!arg.startsWith("-") && path.length < words) {
      path.push(arg);
    } else {
      rest.push(arg);
    }
  }
  return { path, rest };
}

/** What parseCommand returns: named so the published .d.ts can spell it. */
export type ParsedCommand<O extends Options> = ReturnType<
  typeof parseArgs<{ args: string[]; options: typeof GLOBAL_OPTIONS & O; allowPositionals: true; strict: true }>
>;

/** node:util parseArgs, strict, with its errors turned into usage errors of `command`. */
export function parseCommand<O extends Options>(args: readonly string[], options: O, command: string): ParsedCommand<O> {
  try {
    return parseArgs({ args: [...args], options: { ...GLOBAL_OPTIONS, ...options }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e), command);
  }
}

/** The global options alone, leniently: for messages about a command that failed. */
export function globalValues(args: readonly string[]): { url?: string; token?: string; ca?: string } {
  const { values } = parseArgs({ args: [...args], options: GLOBAL_OPTIONS, allowPositionals: true, strict: false });
  const str = (v: unknown) => (typeof v === "string" ? v : undefined);
  return { url: str(values.url), token: str(values.token), ca: str(values.ca) };
}
