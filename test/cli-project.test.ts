// The project commands of the `cairn` CLI, run from source: init writes the
// template app with our versions filled in and refuses a non-empty folder;
// generate refuses a project without the @bufbuild/protobuf it needs; token
// signs what hmacTokenVerifier accepts. (.ci/package-e2e.sh runs the whole
// app from the packed tarball.)
import { existsSync, readFileSync, readdirSync, symlinkSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { hmacTokenVerifier } from "@cairn-dev/cairn";
import { CLI_TEST_TIMEOUT_MS, ROOT, runCli } from "./fixtures/cli-process.js";
import { tempDirs } from "./fixtures/temp-dirs.js";

vi.setConfig({ testTimeout: CLI_TEST_TIMEOUT_MS });

const tempDir = tempDirs("cairn-cli-project-");

/** The CLI from source, in `cwd`. */
const cairn = (args: string[], cwd: string, env: Record<string, string> = {}) => runCli(args, { cwd, env });

describe("cairn init", () => {
  it("writes the app with the package's versions and refuses a folder that is not empty", async () => {
    const parent = tempDir();
    const app = join(parent, "My App");
    const run = await cairn(["init", app], parent);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    for (const f of [".gitignore", "README.md", "tsconfig.json", "proto/counter/v1/counter.proto", "src/servicer.ts", "src/server.ts", "src/client.ts", "test/counter.test.ts"]) {
      expect(existsSync(join(app, f)), f).toBe(true);
    }
    const pkg = JSON.parse(readFileSync(join(app, "package.json"), "utf8"));
    const ours = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    expect(pkg.name).toBe("my-app");
    expect(pkg.dependencies["@cairn-dev/cairn"]).toBe(`^${ours.version}`);
    expect(pkg.dependencies["@bufbuild/protobuf"]).toBe(ours.dependencies["@bufbuild/protobuf"]);
    expect(Object.keys(pkg.scripts).sort()).toEqual(["build", "client", "dev", "generate", "start", "test"]);
    expect(readFileSync(join(app, "README.md"), "utf8")).not.toContain("{{");

    const again = await cairn(["init", app], parent);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("is not empty");
  });

  it("needs a folder", async () => {
    const run = await cairn(["init"], tempDir());
    expect(run.code).toBe(2);
  });
});

describe("cairn generate", () => {
  it("refuses a project without @bufbuild/protobuf, saying which version to install, and writes nothing", async () => {
    const project = tempDir();
    mkdirSync(join(project, "proto"));
    writeFileSync(join(project, "proto/x.proto"), 'syntax = "proto3";\npackage x;\nmessage X {}\n');
    const run = await cairn(["generate"], project);
    expect(run.code).toBe(1);
    const ours = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    expect(run.stderr).toContain(`this project does not have: npm install --save-exact @bufbuild/protobuf@${ours.dependencies["@bufbuild/protobuf"]}`);
    expect(existsSync(join(project, "generated"))).toBe(false);
  });
});

describe("cairn generate, in process", () => {
  const proto = (extra = "") => `syntax = "proto3";
package demo.v1;
import "cairn/v1/options.proto";
message Thing {
  option (cairn.v1.state) = {};
  string name = 1;
}
message GetRequest {}
message GetResponse { string name = 1; }
service ThingMethods {
  rpc Get(GetRequest) returns (GetResponse) {
    option (cairn.v1.method) = { reader: {} };
  }${extra}
}
`;

  it("writes messages, servicers and refs for the project's files, not for what they import; a codegen error names file:line and keeps the output", async () => {
    const project = tempDir();
    mkdirSync(join(project, "proto/demo/v1"), { recursive: true });
    mkdirSync(join(project, "node_modules/@bufbuild"), { recursive: true });
    symlinkSync(join(ROOT, "node_modules/@bufbuild/protobuf"), join(project, "node_modules/@bufbuild/protobuf"));
    writeFileSync(join(project, "proto/demo/v1/demo.proto"), proto());
    const run = await cairn(["generate"], project);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const files = (readdirSync(join(project, "generated"), { recursive: true }) as string[]).filter((f) => f.endsWith(".ts")).sort();
    expect(files).toEqual(["cairn/v1/options_pb.ts", "demo/v1/demo_cairn.ts", "demo/v1/demo_pb.ts"]);
    expect(readFileSync(join(project, "generated/demo/v1/demo_cairn.ts"), "utf8")).toContain("export abstract class ThingServicer");
    const before = readFileSync(join(project, "generated/demo/v1/demo_cairn.ts"), "utf8");

    writeFileSync(join(project, "proto/demo/v1/demo.proto"), proto("\n  rpc Broken(GetRequest) returns (GetResponse);"));
    const broken = await cairn(["generate"], project);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/demo\/v1\/demo\.proto:14: demo\.v1\.ThingMethods\.Broken: missing option \(cairn\.v1\.method\)/);
    expect(readFileSync(join(project, "generated/demo/v1/demo_cairn.ts"), "utf8")).toBe(before);
  });
});

describe("cairn token", () => {
  it("signs a token hmacTokenVerifier accepts, with cairn_admin when asked", async () => {
    const run = await cairn(["token", "--admin", "--sub", "ops"], tempDir(), { CAIRN_TOKEN_SECRET: "s3cret" });
    expect(run.code).toBe(0);
    const claims = await hmacTokenVerifier("s3cret")(run.stdout.trim());
    expect(claims).toMatchObject({ sub: "ops", cairn_admin: true });
    expect(await hmacTokenVerifier("other")(run.stdout.trim())).toBeUndefined();
  });

  it("needs CAIRN_TOKEN_SECRET", async () => {
    const run = await cairn(["token"], tempDir(), { CAIRN_TOKEN_SECRET: "" });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("CAIRN_TOKEN_SECRET");
  });
});
