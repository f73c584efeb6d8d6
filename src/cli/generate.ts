// `cairn generate`: buf compiles the project's .proto files with a
// configuration made here (no buf.yaml, nothing pointing into node_modules),
// then the two plugins run in this process: protoc-gen-es for messages, our
// own protoc-gen-cairn for servicers and refs. In process, because a plugin
// process loads the TypeScript compiler (protoplugin's transpiler) on every
// run: seconds per change in `cairn dev`; here it is loaded once.
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve, sep } from "node:path";
import { create, fromBinary } from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import {
  CodeGeneratorRequestSchema,
  FileDescriptorSetSchema,
  type CodeGeneratorResponse,
  type FileDescriptorProto,
} from "@bufbuild/protobuf/wkt";
import type { Plugin } from "@bufbuild/protoplugin";
import { runBuf } from "./buf.js";
import { PACKAGE_ROOT, dependencyDir } from "./package-paths.js";
import { protobufVersionProblem } from "./protobuf-version.js";

export interface GenerateOptions {
  /** The project folder (buf runs there). */
  projectDir: string;
  /** Folders of .proto files, relative to projectDir. */
  protoDirs: readonly string[];
  /** Output folder, relative to projectDir; emptied first. */
  outDir: string;
  /** Also emit `<name>_cairn_web.ts` for browsers. */
  web: boolean;
}

export interface GenerateResult {
  ok: boolean;
  /** What buf and the plugins printed, or why nothing ran. */
  output: string;
}

/** Where the options proto is copied inside the project, for buf's workspace. */
const OPTIONS_MODULE = join("node_modules", ".cache", "cairn", "proto");
const OPTIONS_FILE = join("cairn", "v1", "options.proto");

/** Runs buf build and both plugins once; never throws for a user's mistake, reports it. */
export async function generate(o: GenerateOptions): Promise<GenerateResult> {
  const problem = protobufVersionProblem(o.projectDir);
  if (problem !== undefined) return { ok: false, output: problem };
  for (const dir of o.protoDirs) {
    if (!existsSync(resolve(o.projectDir, dir))) return { ok: false, output: `no proto folder ${JSON.stringify(dir)} in ${o.projectDir}` };
  }
  const out = resolve(o.projectDir, o.outDir);
  if (!out.startsWith(resolve(o.projectDir) + sep)) {
    return { ok: false, output: `the output folder ${JSON.stringify(o.outDir)} must be inside the project: it is emptied first` };
  }
  const built = await bufBuild(o);
  if (!built.ok) return built;
  const parameter = ["target=ts", "import_extension=js", ...(o.web ? ["web=true"] : [])];
  const ran = await runPlugins(built, parameter);
  if (!ran.ok) return ran;
  lastInput = { built, parameter };
  rmSync(out, { recursive: true, force: true });
  for (const f of ran.files) {
    const path = join(out, f.name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, f.content);
  }
  return { ok: true, output: built.output };
}

type Built = { ok: true; files: FileDescriptorProto[]; targets: string[]; output: string } | { ok: false; output: string };
type Ran = { ok: true; files: CodeGeneratorResponse["file"] } | { ok: false; output: string };

/** What the last successful run gave the plugins, for warmPlugins. */
let lastInput: { built: Built & { ok: true }; parameter: string[] } | undefined;

/** Both plugins on buf's output; a plugin's error is the result, not a throw. */
async function runPlugins(built: Built & { ok: true }, parameter: string[]): Promise<Ran> {
  const files: CodeGeneratorResponse["file"] = [];
  for (const [plugin, params] of await plugins()) {
    const request = create(CodeGeneratorRequestSchema, {
      fileToGenerate: built.targets,
      parameter: params(parameter).join(","),
      protoFile: built.files,
    });
    let response: CodeGeneratorResponse;
    try {
      response = plugin.run(request);
    } catch (e) {
      return { ok: false, output: `${plugin.name}: ${e instanceof Error ? e.message : String(e)}` };
    }
    if (response.error) return { ok: false, output: `${plugin.name}: ${response.error}` };
    files.push(...response.file);
  }
  return { ok: true, files };
}

/**
 * Runs the plugins again on the last run's input, the output dropped: V8
 * compiles their hot paths now (the first runs are several times slower),
 * not on `cairn dev`'s next .proto change.
 */
export async function warmPlugins(runs = 2): Promise<void> {
  for (let i = 0; i < runs && lastInput !== undefined; i++) await runPlugins(lastInput.built, lastInput.parameter);
}

/** `buf build`: the project's files and everything they import, as descriptors. */
async function bufBuild(o: GenerateOptions): Promise<Built> {
  const config = JSON.stringify({ version: "v2", modules: workspaceModules(o.projectDir, o.protoDirs) });
  const { code, stdout, stderr } = await runBuf(o.projectDir, ["build", "--config", config, "-o", "-"]);
  if (code !== 0) return { ok: false, output: stderr.toString().trim() || `buf build exited with ${code}` };
  const image = fromBinary(FileDescriptorSetSchema, stdout);
  // What `buf generate` generates: the workspace's files, not what they import.
  const targets = image.file.filter((f) => !isImport(f)).map((f) => f.name);
  // Plugins get plain descriptors, as from buf generate: without buf's extension.
  for (const f of image.file) f.$unknown = f.$unknown?.filter((u) => u.no !== BUF_EXTENSION);
  return { ok: true, files: image.file, targets, output: stderr.toString().trim() };
}

/**
 * buf's modules for the project's proto folders, plus a copy of
 * cairn/v1/options.proto unless a folder has its own (this repository).
 */
export function workspaceModules(projectDir: string, protoDirs: readonly string[]): Array<{ path: string }> {
  const modules = protoDirs.map((path) => ({ path }));
  if (!protoDirs.some((dir) => existsSync(resolve(projectDir, dir, OPTIONS_FILE)))) {
    const target = resolve(projectDir, OPTIONS_MODULE, OPTIONS_FILE);
    mkdirSync(resolve(target, ".."), { recursive: true });
    copyFileSync(join(PACKAGE_ROOT, "proto", OPTIONS_FILE), target);
    modules.push({ path: OPTIONS_MODULE });
  }
  return modules;
}

/** buf's image marks imported files in its own extension of each file (buf.alpha.image.v1 ImageFile). */
const BUF_EXTENSION = 8042;
const IS_IMPORT = 1;
function isImport(file: FileDescriptorProto): boolean {
  for (const u of file.$unknown ?? []) {
    if (u.no !== BUF_EXTENSION) continue;
    const ext = new BinaryReader(new BinaryReader(u.data).bytes()); // data: the length, then the message
    while (ext.pos < ext.len) {
      const [no, wireType] = ext.tag();
      if (no === IS_IMPORT) return ext.bool();
      ext.skip(wireType);
    }
  }
  return false;
}

type Params = (parameter: string[]) => string[];
let loaded: Promise<Array<[Plugin, Params]>> | undefined;

/** protoc-gen-es and protoc-gen-cairn, loaded once per process (the TypeScript compiler comes with them). */
function plugins(): Promise<Array<[Plugin, Params]>> {
  loaded ??= (async () => {
    // protoc-gen-es ships CommonJS with no exports map: its plugin module, by path.
    const esRequire = createRequire(join(dependencyDir("@bufbuild/protoc-gen-es"), "package.json"));
    const { protocGenEs } = esRequire("./dist/cjs/src/protoc-gen-es-plugin.js") as { protocGenEs: Plugin };
    const { plugin } = await import("../codegen/plugin.js");
    return [
      [protocGenEs, (p) => p.filter((x) => x !== "web=true")],
      [plugin, (p) => p],
    ];
  })();
  return loaded;
}

/** Starts loading the plugins now, so the first generate of `cairn dev` does not wait for them. */
export function preloadPlugins(): void {
  void plugins().catch(() => undefined);
}

/** A one-line summary for a successful run. */
export function describeGenerated(o: GenerateOptions): string {
  return `generated ${relative(o.projectDir, resolve(o.projectDir, o.outDir)) || "."}/ from ${o.protoDirs.join(", ")}`;
}
