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

const HELP = `Usage: cairn generate [options]

Generates TypeScript for the .proto files of this project with buf and local
plugins only: messages (<name>_pb.ts, protoc-gen-es) and servicers and refs
(<name>_cairn.ts, protoc-gen-cairn). No buf.yaml or buf.gen.yaml is needed;
cairn/v1/options.proto comes from the package.

${GENERATE_OPTIONS_HELP}`;

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
  const { values, positionals } = parseCommand(rest, GENERATE_OPTIONS, "generate");
  if (values.help) {
    console.log(HELP);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected ${JSON.stringify(positionals[0])}`, "generate");
  const options = generateOptionsFrom(values);
  const result = await generate(options);
  if (result.output) (result.ok ? console.log : console.error)(result.output);
  if (!result.ok) {
    console.error("cairn generate: failed");
    return EXIT.failed;
  }
  console.log(`cairn: ${describeGenerated(options)}`);
  return EXIT.ok;
}
