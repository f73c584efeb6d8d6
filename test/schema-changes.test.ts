// `cairn generate`'s schema-change check (buf breaking against git), run as
// the CLI in a scaffolded project (`cairn init`) that is its own git
// repository: safe changes pass silently, wire-incompatible ones warn, and
// with --breaking error fail with exit 1 and generate nothing.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { ROOT, runCli } from "./fixtures/cli-process.js";
import { tempDirs } from "./fixtures/temp-dirs.js";

// Each generate is a node + buf + plugins run: slow with both cores busy. Deadlines bound hangs only.
vi.setConfig({ testTimeout: 300_000, hookTimeout: 120_000 });

const tempDir = tempDirs("cairn-schema-");
const PROTO = "proto/counter/v1/counter.proto";
const GENERATED = "generated/counter/v1/counter_pb.ts";

/** A new app from the template, with our buf and plugins, in a repository (at `repo`, default the app) with one commit. */
async function project(repo = tempDir(), app = "app"): Promise<string> {
  const dir = join(repo, app);
  expect((await runCli(["init", dir])).code).toBe(0);
  mkdirSync(join(dir, "node_modules"));
  // The plugins run from the project: protoc-gen-es, and (from source) tsx for protoc-gen-cairn.
  for (const name of ["@bufbuild", "tsx"]) symlinkSync(join(ROOT, "node_modules", name), join(dir, "node_modules", name));
  const top = app === "app" ? dir : repo;
  git(top, "init", "-q");
  commit(top, "scaffold");
  return dir;
}

function git(dir: string, ...args: string[]): string {
  return execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], { cwd: dir, encoding: "utf8" });
}

function commit(dir: string, message: string): void {
  git(dir, "add", "-A");
  git(dir, "commit", "-q", "-m", message);
}

/** Rewrites the template's Counter message. */
function editCounter(dir: string, fields: string): void {
  const path = join(dir, PROTO);
  const proto = readFileSync(path, "utf8");
  const edited = proto.replace(/message Counter \{[\s\S]*?\n\}/, `message Counter {\n  option (cairn.v1.state) = {};\n${fields}\n}`);
  expect(edited).not.toBe(proto);
  writeFileSync(path, edited);
}

const generate = (dir: string, ...args: string[]) => runCli(["generate", ...args], { cwd: dir, timeoutMs: 120_000 });

describe("cairn generate: schema changes", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await project();
    // The template's Counter: int64 value = 1.
    expect(readFileSync(join(dir, PROTO), "utf8")).toMatch(/message Counter \{\n.*\n  int64 value = 1;\n\}/);
  });

  it("passes a safe change (a new field) silently", async () => {
    editCounter(dir, "  int64 value = 1;\n  string note = 2;");
    const run = await generate(dir);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toBe("");
    expect(readFileSync(join(dir, GENERATED), "utf8")).toContain("note: string");
    commit(dir, "add note");
  });

  it("warns on a field whose type changed, and still generates", async () => {
    editCounter(dir, "  string value = 1;\n  string note = 2;");
    const run = await generate(dir);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain("warning: wire-incompatible changes since HEAD");
    expect(run.stderr).toContain('Field "1" with name "value" on message "Counter" changed type from "int64" to "string"');
    expect(readFileSync(join(dir, GENERATED), "utf8")).toContain("value: string");
  });

  it("fails with --breaking error, generating nothing", async () => {
    rmSync(join(dir, "generated"), { recursive: true });
    const run = await generate(dir, "--breaking", "error");
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('changed type from "int64" to "string"');
    expect(existsSync(join(dir, "generated"))).toBe(false);
  });

  it("wants a deleted field's number and name reserved", async () => {
    editCounter(dir, "  int64 value = 1;");
    const deleted = await generate(dir, "--breaking=error");
    expect(deleted.code).toBe(1);
    expect(deleted.stderr).toContain('Previously present field "2" with name "note" on message "Counter" was deleted');
    editCounter(dir, '  int64 value = 1;\n  reserved 2;\n  reserved "note";');
    const reserved = await generate(dir, "--breaking=error");
    expect(reserved.code, reserved.stderr).toBe(0);
    expect(reserved.stderr).toBe("");
  });

  it("fails on a renamed state message: its actors are stored under the old name", async () => {
    const path = join(dir, PROTO);
    const proto = readFileSync(path, "utf8");
    writeFileSync(path, proto.replace("message Counter {", "message Tally {"));
    const run = await generate(dir, "--breaking=error");
    writeFileSync(path, proto);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('Previously present message "Counter" was deleted from package "counter.v1"');
  });

  it("compares with another commit given by --against", async () => {
    // A change made on purpose and committed: HEAD agrees, the commit before it does not.
    editCounter(dir, '  string value = 1;\n  reserved 2;\n  reserved "note";');
    commit(dir, "value becomes a string");
    const sinceHead = await generate(dir, "--breaking=error");
    expect(sinceHead.code, sinceHead.stderr).toBe(0);
    const sincePrevious = await generate(dir, "--breaking=error", "--against", "HEAD~1");
    expect(sincePrevious.code).toBe(1);
    expect(sincePrevious.stderr).toContain("since HEAD~1");
  });
});

describe("cairn generate: a project in a subfolder of its repository", () => {
  it("compares with the protos committed under that subfolder", async () => {
    const dir = await project(tempDir(), join("services", "app"));
    editCounter(dir, "  string value = 1;");
    const run = await generate(dir, "--breaking=error");
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('proto/counter/v1/counter.proto:10:3:Field "1" with name "value" on message "Counter" changed type');
  });
});

describe("cairn generate: nothing to compare with", () => {
  it("says so and skips outside a git repository and before the first commit", async () => {
    const dir = await project();
    const loose = join(tempDir(), "loose");
    execFileSync("cp", ["-r", dir, loose]);
    execFileSync("rm", ["-rf", join(loose, ".git")]);
    editCounter(loose, "  string value = 1;");
    const outside = await generate(loose);
    expect(outside.code, outside.stderr).toBe(0);
    expect(outside.stdout).toContain("schema check skipped: not a git repository");

    git(loose, "init", "-q");
    const uncommitted = await generate(loose, "--breaking=error");
    expect(uncommitted.code, uncommitted.stderr).toBe(0);
    expect(uncommitted.stdout).toContain("schema check skipped: no commit yet");
  });
});
