import { checkBreaking } from "./breaking.js";
import { EXIT, UsageError } from "./exit.js";
import { describeGenerated, generate, type GenerateOptions } from "./generate.js";
import { parseCommand } from "./options.js";

export const GENERATE_OPTIONS = {
  proto: { type: "string", multiple: true },
  out: { type: "string" },
  web: { type: "boolean" },
} as const;

export const GENERATE_OPTIONS_HELP = `  --proto DIR   a folder of .proto files (default proto; may repeat)
  --out DIR     where the TypeScript goes, emptied first (default generated)
  --web         also emit <name>_cairn_web.ts for browsers (@cairn-dev/cairn/web)`;

/** The schema-change check's options: generate only (dev regenerates on every save). */
const BREAKING_OPTIONS = {
  breaking: { type: "string" },
  against: { type: "string" },
} as const;

const BREAKING_MODES = ["warn", "error", "off"] as const;

const HELP = `Usage: cairn generate [options]

Generates TypeScript for the .proto files of this project with buf and local
plugins only: messages (<name>_pb.ts, protoc-gen-es) and servicers and refs
(<name>_cairn.ts, protoc-gen-cairn). No buf.yaml or buf.gen.yaml is needed;
cairn/v1/options.proto comes from the package.

First it compares the protos with their last committed version (buf
breaking against git) and warns about changes that stored state, clients
or tasks in flight cannot read: a field's number or type changed, a field
deleted without reserving its number and name, a method removed. Outside a
git repository, or before the first commit, it says so and skips.

${GENERATE_OPTIONS_HELP}
  --breaking MODE  warn (default), error (exit 1, generate nothing) or off
  --against REF    the git commit to compare with (default HEAD; in CI,
                   e.g. origin/main)`;

/** The generate options of a parsed command line. */
export function generateOptionsFrom(values: { proto?: string[]; out?: string; web?: boolean }): GenerateOptions {
  return {
    projectDir: process.cwd(),
    protoDirs: values.proto?.length ? values.proto : ["proto"],
    outDir: values.out ?? "generated",
    web: values.web ?? false,
  };
}

export async function generateCommand(rest: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommand(rest, { ...GENERATE_OPTIONS, ...BREAKING_OPTIONS }, "generate");
  if (values.help) {
    console.log(HELP);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected ${JSON.stringify(positionals[0])}`, "generate");
  const mode = values.breaking ?? "warn";
  if (!isBreakingMode(mode)) throw new UsageError(`--breaking must be one of ${BREAKING_MODES.join(", ")}, got ${JSON.stringify(mode)}`, "generate");
  const options = generateOptionsFrom(values);
  if (mode !== "off" && !(await schemaChangesAllowed(options.projectDir, options.protoDirs, values.against ?? "HEAD", mode))) {
    console.error("cairn generate: failed: wire-incompatible changes (--breaking warn lets them through)");
    return EXIT.failed;
  }
  const result = await generate(options);
  if (result.output) (result.ok ? console.log : console.error)(result.output);
  if (!result.ok) {
    console.error("cairn generate: failed");
    return EXIT.failed;
  }
  console.log(`cairn: ${describeGenerated(options)}`);
  return EXIT.ok;
}

function isBreakingMode(mode: string): mode is (typeof BREAKING_MODES)[number] {
  return (BREAKING_MODES as readonly string[]).includes(mode);
}

/** Runs the check and says what it found; false when `mode` is error and changes break. */
async function schemaChangesAllowed(projectDir: string, protoDirs: readonly string[], ref: string, mode: "warn" | "error"): Promise<boolean> {
  const check = await checkBreaking(projectDir, protoDirs, ref);
  // A note, not a warning: a new project is not in git yet, and that is fine.
  if (check.status === "skipped") console.log(`cairn: schema check skipped: ${check.reason}`);
  if (check.status !== "breaking") return true;
  console.error(
    `cairn: ${mode === "error" ? "error" : "warning"}: wire-incompatible changes since ${ref} ` +
      `(stored state, clients or tasks in flight may not read them; see "Evolving your state safely" in the README):\n${check.problems}`,
  );
  return mode === "warn";
}
