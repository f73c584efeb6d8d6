// The schema-change check of `cairn generate`: `buf breaking` between the
// project's protos and those of a git commit (HEAD: what was committed last).
// The committed protos are read with `git show` into a temporary folder laid
// out like the project, so nothing is fetched and the index is untouched.
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { runBuf } from "./buf.js";
import { workspaceModules } from "./generate.js";

/**
 * Wire incompatibility, binary and JSON (Connect JSON clients, exports);
 * removed methods or services (a task in flight may still call them); and
 * removed or renamed messages (actors are stored under their state type's
 * full name). Moving a message or service between files of a package is fine.
 */
const RULES = ["WIRE_JSON", "RPC_NO_DELETE", "PACKAGE_SERVICE_NO_DELETE", "PACKAGE_MESSAGE_NO_DELETE"];

export type BreakingCheck =
  | { readonly status: "compatible" }
  | { readonly status: "breaking"; readonly problems: string }
  /** Nothing to compare with (no git, no commit, protos new since it) or the check could not run. */
  | { readonly status: "skipped"; readonly reason: string };

/** Compares the protos in `protoDirs` (relative to `projectDir`) with their version at git `ref`. */
export async function checkBreaking(projectDir: string, protoDirs: readonly string[], ref: string): Promise<BreakingCheck> {
  const top = await git(projectDir, ["rev-parse", "--show-toplevel"]);
  if (top.code !== 0) return { status: "skipped", reason: "not a git repository" };
  if ((await git(projectDir, ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`])).code !== 0) {
    return { status: "skipped", reason: ref === "HEAD" ? "no commit yet" : `no commit ${JSON.stringify(ref)}` };
  }
  const root = top.stdout.toString().trim();
  const then = mkdtempSync(join(tmpdir(), "cairn-breaking-"));
  try {
    let files = 0;
    for (const dir of protoDirs) {
      const inRepo = relative(root, resolve(projectDir, dir)) || ".";
      const listed = await git(root, ["ls-tree", "-r", "-z", "--name-only", ref, "--", inRepo]);
      for (const path of listed.stdout.toString().split("\0")) {
        if (!path.endsWith(".proto")) continue;
        const file = join(then, dir, relative(inRepo, path));
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, (await git(root, ["show", `${ref}:${path}`])).stdout);
        files++;
      }
    }
    if (files === 0) return { status: "skipped", reason: `no .proto files at ${ref}` };
    const config = (dir: string) => JSON.stringify({ version: "v2", modules: workspaceModules(dir, protoDirs), breaking: { use: RULES } });
    const { code, stdout, stderr } = await runBuf(projectDir, ["breaking", ".", "--config", config(projectDir), "--against", then, "--against-config", config(then)]);
    const output = Buffer.concat([stdout, stderr]).toString().trim();
    if (code === 0) return { status: "compatible" };
    // buf exits 100 when it found breaking changes; anything else is a failure to check.
    if (code === 100) return { status: "breaking", problems: output };
    return { status: "skipped", reason: `buf breaking failed: ${output.split("\n")[0]}` };
  } finally {
    rmSync(then, { recursive: true, force: true });
  }
}

function git(cwd: string, args: readonly string[]): Promise<{ code: number; stdout: Buffer }> {
  return new Promise((done) => {
    execFile("git", args, { cwd, encoding: "buffer", maxBuffer: 64 * 1024 * 1024 }, (error, stdout) => {
      const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
      done({ code, stdout });
    });
  });
}
