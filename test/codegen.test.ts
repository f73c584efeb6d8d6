// End-to-end checks of protoc-gen-cairn: each case writes a tiny buf module
// into a temp dir and runs the real `buf generate` with the plugin, because
// what users see is buf's output, file:line included.
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it, vi } from "vitest";
import { ROOT as repo } from "./fixtures/cli-process.js";
import { tempDirs } from "./fixtures/temp-dirs.js";

// Each case starts buf and tsx processes: with both cores busy one takes up to a minute.
vi.setConfig({ testTimeout: 300_000 });
const tempDir = tempDirs("cairn-codegen-");

// Cases run one after another: each spends ~2-4 s starting tsx, and running
// them concurrently on a small machine only trades that for timeouts.
const run = promisify(execFile);

/** Runs buf generate on `demo/v1/demo.proto`; returns ok + output or stderr. */
async function generate(lines: string[]): Promise<{ ok: boolean; out: string; dir: string }> {
  const dir = tempDir();
  mkdirSync(join(dir, "cairn/v1"), { recursive: true });
  mkdirSync(join(dir, "demo/v1"), { recursive: true });
  copyFileSync(join(repo, "proto/cairn/v1/options.proto"), join(dir, "cairn/v1/options.proto"));
  writeFileSync(join(dir, "demo/v1/demo.proto"), lines.join("\n") + "\n");
  writeFileSync(join(dir, "buf.yaml"), "version: v2\nmodules:\n  - path: .\n");
  writeFileSync(
    join(dir, "buf.gen.yaml"),
    [
      "version: v2",
      "plugins:",
      `  - local: ["${join(repo, "node_modules/.bin/tsx")}", "${join(repo, "src/codegen/protoc-gen-cairn.ts")}"]`,
      "    out: gen",
      "    opt: [target=ts, import_extension=js]",
      "",
    ].join("\n"),
  );
  try {
    await run(join(repo, "node_modules/.bin/buf"), ["generate"], { cwd: dir });
    return { ok: true, out: "", dir };
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string };
    return { ok: false, out: `${err.stderr ?? ""}${err.stdout ?? ""}`, dir };
  }
}

const HEADER = [
  'syntax = "proto3";',
  "package demo.v1;",
  'import "cairn/v1/options.proto";',
  "message Req {}",
  "message Res {}",
];
const COUNTER = ["message Counter {", "  option (cairn.v1.state) = {};", "  int64 n = 1;", "}"];

/** 1-based line of the first line containing `needle`. */
const lineOf = (lines: string[], needle: string) => lines.findIndex((l) => l.includes(needle)) + 1;

describe("protoc-gen-cairn errors name file, line and method", () => {
  it("a method with no (cairn.v1.method), and one with no kind", async () => {
    const lines = [
      ...HEADER,
      ...COUNTER,
      "service CounterMethods {",
      "  rpc Get(Req) returns (Res) { option (cairn.v1.method) = { reader: {} }; }",
      "  rpc Bump(Req) returns (Res);",
      "  rpc Reset(Req) returns (Res) { option (cairn.v1.method) = { errors: [] }; }",
      "}",
    ];
    const r = await generate(lines);
    expect(r.ok).toBe(false);
    // Both problems in one run: errors are collected, not thrown one by one.
    expect(r.out).toContain(`demo/v1/demo.proto:${lineOf(lines, "rpc Bump")}: demo.v1.CounterMethods.Bump: missing option (cairn.v1.method)`);
    expect(r.out).toContain(`demo/v1/demo.proto:${lineOf(lines, "rpc Reset")}: demo.v1.CounterMethods.Reset:`);
    expect(r.out).not.toContain("CounterMethods.Get");
  });

  it("an unknown error type", async () => {
    const lines = [
      ...HEADER,
      ...COUNTER,
      "message TooBig {}",
      "service CounterMethods {",
      '  rpc Add(Req) returns (Res) { option (cairn.v1.method) = { writer: {}, errors: ["TooBig", "NoSuchError"] }; }',
      "}",
    ];
    const r = await generate(lines);
    expect(r.ok).toBe(false);
    expect(r.out).toContain(`demo/v1/demo.proto:${lineOf(lines, "rpc Add")}: demo.v1.CounterMethods.Add: unknown error type "NoSuchError"`);
    expect(r.out).not.toContain('"TooBig"');
  });

  it("a FooMethods service with no Foo message", async () => {
    const lines = [
      ...HEADER,
      "service FooMethods {",
      "  rpc Get(Req) returns (Res) { option (cairn.v1.method) = { reader: {} }; }",
      "}",
    ];
    const r = await generate(lines);
    expect(r.ok).toBe(false);
    expect(r.out).toContain(`demo/v1/demo.proto:${lineOf(lines, "service FooMethods")}: demo.v1.FooMethods: state message "Foo" not found`);
  });

  it("(cairn.v1.service) naming a missing state", async () => {
    const lines = [
      ...HEADER,
      ...COUNTER,
      "service Things {",
      '  option (cairn.v1.service) = { state: "Missing" };',
      "  rpc Get(Req) returns (Res) { option (cairn.v1.method) = { reader: {} }; }",
      "}",
    ];
    const r = await generate(lines);
    expect(r.ok).toBe(false);
    expect(r.out).toContain(`demo/v1/demo.proto:${lineOf(lines, "service Things")}: demo.v1.Things: state message "Missing" not found`);
  });
});

describe("protoc-gen-cairn output", () => {
  it("binds a service option to its state, default-constructible", async () => {
    const lines = [
      ...HEADER,
      ...COUNTER,
      "service Plain { rpc Ping(Req) returns (Res); }", // plain gRPC: ignored
      "service Counting {",
      '  option (cairn.v1.service) = { state: "demo.v1.Counter", default_constructible: true };',
      "  rpc Get(Req) returns (Res) { option (cairn.v1.method) = { reader: {} }; }",
      "  rpc Bump(Req) returns (Res) { option (cairn.v1.method) = { writer: {} }; }",
      "}",
    ];
    const r = await generate(lines);
    expect(r.out).toBe("");
    expect(r.ok).toBe(true);
    const out = readFileSync(join(r.dir, "gen/demo/v1/demo_cairn.ts"), "utf8");
    expect(out).toContain("defaultConstructible: true");
    expect(out).toContain("service: Counting,");
    expect(out).toContain('get: { kind: "reader" }');
    expect(out).toContain('bump: { kind: "writer" }');
    expect(out).toContain("export abstract class CounterServicer");
    expect(out).toContain("export class CounterRef");
    // No constructor method, so no Counter.create.
    expect(out).not.toContain("create(");
    expect(out).not.toContain("Plain");
  });
});
