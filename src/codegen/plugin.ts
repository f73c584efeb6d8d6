// The protoc-gen-cairn plugin itself: turns `<State>Methods` services
// annotated with cairn options into typed servicer base classes, refs and
// specs (DESIGN.md §2). Run by buf as a process (protoc-gen-cairn.ts), or in
// process by `cairn generate` and `cairn dev` (src/cli/generate.ts).
import { createEcmaScriptPlugin } from "@bufbuild/protoplugin";
import { emitFile } from "./emit.js";
import { readCairnOptions } from "./options.js";
import { indexMessages, validateFile, type StateModel } from "./validate.js";

interface CairnPluginOptions {
  runtime: string;
  /** `web=true`: also emit `<name>_cairn_web.ts` for browsers (imports `<runtime>/web`). */
  web: boolean;
}

export const plugin = createEcmaScriptPlugin<CairnPluginOptions>({
  name: "protoc-gen-cairn",
  version: "v0.1.0",
  parseOptions(raw) {
    const options: CairnPluginOptions = { runtime: "@cairn-dev/cairn", web: false };
    for (const { key, value } of raw) {
      if (key === "runtime" && value) options.runtime = value;
      else if (key === "web" && (value === "true" || value === "false")) options.web = value === "true";
      else throw new Error(`protoc-gen-cairn: unknown option ${key}=${value}`);
    }
    return options;
  },
  generateTs(schema) {
    const opts = readCairnOptions(schema);
    const messages = indexMessages(schema.allFiles);
    // Validate everything before emitting anything: a half-generated tree is
    // worse than none, and the user should see all problems at once.
    const problems: string[] = [];
    const perFile: [(typeof schema.files)[number], StateModel[]][] = [];
    for (const file of schema.files) {
      const models = validateFile(file, opts, messages, problems);
      if (models.length > 0) perFile.push([file, models]);
    }
    if (problems.length > 0) {
      throw new Error(`${problems.length} problem(s):\n${problems.join("\n")}`);
    }
    for (const [file, models] of perFile) {
      emitFile(schema, file, models, { runtime: schema.options.runtime });
      if (schema.options.web) emitFile(schema, file, models, { runtime: schema.options.runtime, web: true });
    }
  },
});

