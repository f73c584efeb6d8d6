// The command line of the example clients, one form for all: the server's
// URL as `[URL]` or `--url URL` (else CAIRN_URL, else the default port on
// loopback). Bad usage prints one line and exits 2, as `cairn` does.
import { parseArgs } from "node:util";

export const DEFAULT_URL = "http://127.0.0.1:9991";

/** Prints what was wrong and how to call it, on one line, and exits 2. */
export function usageError(usage: string, why: string): never {
  console.error(`${why.replace(/\s+/g, " ").trim()} (usage: ${usage})`);
  process.exit(2);
}

/** The URL and the string options `names` from `argv`; exits 2 on bad usage. */
export function clientArgs<N extends string>(
  argv: readonly string[],
  usage: string,
  names: readonly N[] = [],
): { url: string; values: Partial<Record<N, string>> } {
  let parsed;
  try {
    const options = Object.fromEntries(["url", ...names].map((n) => [n, { type: "string" as const }]));
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (e) {
    usageError(usage, e instanceof Error ? e.message : String(e));
  }
  const { positionals, values } = parsed;
  if (positionals.length > 1) usageError(usage, `one URL at most, got ${positionals.join(" ")}`);
  const flag = values.url as string | undefined;
  const [positional] = positionals;
  if (positional !== undefined && flag !== undefined && positional !== flag) {
    usageError(usage, `two URLs: ${positional} and --url ${flag}`);
  }
  const url = positional ?? flag ?? (process.env.CAIRN_URL || DEFAULT_URL);
  let parsedUrl: URL | undefined;
  try {
    parsedUrl = new URL(url);
  } catch {
    parsedUrl = undefined;
  }
  if (!parsedUrl || (parsedUrl.protocol !== "http:" && parsedUrl.protocol !== "https:")) {
    usageError(usage, `not an http(s) URL: ${JSON.stringify(url)}`);
  }
  return { url, values: values as Partial<Record<N, string>> };
}
