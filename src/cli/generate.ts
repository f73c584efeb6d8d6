// `cairn generate`: runs buf with a configuration made here, so a project
// needs no buf.yaml or buf.gen.yaml, and nothing it writes points into
// node_modules. Plugins are local: protoc-gen-es for messages, our own
// protoc-gen-cairn for servicers and refs.
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { FROM_SOURCE, PACKAGE_ROOT, dependencyBin } from "./package-paths.js";
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

/** Runs buf generate once; never throws for a user's mistake, reports it. */
export async function generate(o: GenerateOptions): Promise<GenerateResult> {
  const problem = protobufVersionProblem(o.projectDir);
  if (problem !== undefined) return { ok: false, output: problem };
  for (const dir of o.protoDirs) {
    if (!existsSync(resolve(o.projectDir, dir))) return { ok: false, output: `no proto folder ${JSON.stringify(dir)} in ${o.projectDir}` };
  }
  const modules = workspaceModules(o.projectDir, o.protoDirs);
  const node = process.execPath;
  const cairnPlugin = FROM_SOURCE
    ? [node, "--import", "tsx", join(PACKAGE_ROOT, "src", "codegen", "protoc-gen-cairn.ts")]
    : [node, join(PACKAGE_ROOT, "bin", "protoc-gen-cairn.js")];
  const opt = ["target=ts", "import_extension=js"];
  const template = {
    version: "v2",
    clean: true,
    plugins: [
      { local: [node, dependencyBin("@bufbuild/protoc-gen-es", "protoc-gen-es")], out: o.outDir, opt },
      { local: cairnPlugin, out: o.outDir, opt: o.web ? [...opt, "web=true"] : opt },
    ],
  };
  const config = { version: "v2", modules };
  const { code, output } = await runBuf(o.projectDir, ["generate", "--config", JSON.stringify(config), "--template", JSON.stringify(template)]);
  return { ok: code === 0, output };
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

/** Runs the package's buf in `cwd`; resolves with its exit code (-1: it did not run) and what it printed. */
export function runBuf(cwd: string, args: readonly string[]): Promise<{ code: number; output: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [dependencyBin("@bufbuild/buf", "buf"), ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (b: Buffer) => (output += b.toString()));
    child.stderr.on("data", (b: Buffer) => (output += b.toString()));
    child.on("error", (e) => done({ code: -1, output: `cannot run buf: ${e.message}` }));
    child.on("close", (code) => done({ code: code ?? -1, output: output.trim() }));
  });
}

/** A one-line summary for a successful run. */
export function describeGenerated(o: GenerateOptions): string {
  return `generated ${relative(o.projectDir, resolve(o.projectDir, o.outDir)) || "."}/ from ${o.protoDirs.join(", ")}`;
}
