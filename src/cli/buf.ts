// Runs the buf CLI that cairn depends on. @bufbuild/buf's bin is a node
// script that only finds the platform's Go binary and spawns it: starting
// that binary directly saves a node start on every `cairn generate` (a good
// part of a .proto change in `cairn dev`).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { arch, platform } from "node:os";
import { join } from "node:path";
import { dependencyBin, dependencyDir } from "./package-paths.js";

/** buf's platform packages, as its bin script names them (`${platform} ${arch}`). */
const PLATFORM_PACKAGES: Readonly<Record<string, string>> = {
  "darwin arm64": "@bufbuild/buf-darwin-arm64",
  "darwin x64": "@bufbuild/buf-darwin-x64",
  "linux arm64": "@bufbuild/buf-linux-aarch64",
  "linux arm": "@bufbuild/buf-linux-armv7",
  "linux x64": "@bufbuild/buf-linux-x64",
  "win32 arm64": "@bufbuild/buf-win32-arm64",
  "win32 x64": "@bufbuild/buf-win32-x64",
};

// Process-wide on purpose: where buf lives does not change while we run.
let command: readonly string[] | undefined;

/** The buf binary for this platform, else node running buf's own bin script. */
function bufCommand(): readonly string[] {
  command ??= (() => {
    const pkg = PLATFORM_PACKAGES[`${platform()} ${arch()}`];
    if (pkg !== undefined) {
      try {
        const fromBuf = createRequire(join(dependencyDir("@bufbuild/buf"), "package.json"));
        const binary = fromBuf.resolve(`${pkg}/bin/buf${platform() === "win32" ? ".exe" : ""}`);
        if (existsSync(binary)) return [binary];
      } catch {
        // Not installed for this platform: buf's script knows where else to look.
      }
    }
    return [process.execPath, dependencyBin("@bufbuild/buf", "buf")];
  })();
  return command;
}

export interface BufRun {
  /** buf's exit code; -1 when it did not run. */
  readonly code: number;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
}

/** Runs buf with `args` in `cwd`; resolves with its exit code and what it printed. */
export function runBuf(cwd: string, args: readonly string[]): Promise<BufRun> {
  const [file, ...pre] = bufCommand();
  return new Promise((done) => {
    const child = spawn(file!, [...pre, ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => stdout.push(b));
    child.stderr.on("data", (b: Buffer) => stderr.push(b));
    child.on("error", (e) => done({ code: -1, stdout: Buffer.alloc(0), stderr: Buffer.from(`cannot run buf: ${e.message}`) }));
    child.on("close", (code) => done({ code: code ?? -1, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr) }));
  });
}
