/**
 * The numbers a new user meets, one JSON line each on stdout:
 *
 *   tarball               size and file count of `npm pack` (what npm install downloads)
 *   init-to-first-request `cairn init` from the tarball → `npm install` (warm npm
 *                         cache) → `npm run dev` → the first request answered;
 *                         with the time of each part
 *   dev-restart-ts, dev-restart-proto, cold-start   bench/dev-loop.ts on that app
 *
 *   node --import tsx bench/new-app.ts
 *
 * Everything runs in a temporary folder outside the repository, removed at
 * the end; every server it starts is stopped by its process group.
 */
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { firstAnswer, freePort } from "./counter-app.js";
import { emit, log } from "./output.js";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const quiet = { npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false" };

function npm(args: string[], cwd: string): string {
  return execFileSync("npm", args, { cwd, env: { ...process.env, ...quiet }, stdio: ["ignore", "pipe", "inherit"] }).toString();
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "cairn-new-app-"));
  try {
    log("npm pack (builds dist/)");
    const [pack] = JSON.parse(npm(["pack", "--pack-destination", work, "--json"], REPO)) as Array<{
      filename: string;
      size: number;
      unpackedSize: number;
      entryCount: number;
    }>;
    const tgz = join(work, pack!.filename);
    emit({ scenario: "tarball", packedKiB: Math.round(pack!.size / 1024), unpackedKiB: Math.round(pack!.unpackedSize / 1024), files: pack!.entryCount });

    // Warm the npm cache as a user who installed anything before has it.
    log("warming the npm cache (an install thrown away)");
    npm(["exec", "--yes", `--package=${tgz}`, "--", "cairn", "init", "warm"], work);
    npm(["install", tgz], join(work, "warm"));

    log("timed: cairn init, npm install, npm run dev, first request");
    const app = join(work, "my-app");
    const t0 = performance.now();
    npm(["exec", "--yes", `--package=${tgz}`, "--", "cairn", "init", "my-app"], work);
    const t1 = performance.now();
    npm(["install", tgz], app);
    const t2 = performance.now();
    const port = await freePort();
    const dev = spawn("npm", ["run", "dev"], { cwd: app, env: { ...process.env, PORT: String(port) }, stdio: "ignore", detached: true });
    try {
      const t3 = await firstAnswer(`http://127.0.0.1:${port}`);
      emit({
        scenario: "init-to-first-request",
        ms: Math.round(t3 - t0),
        initMs: Math.round(t1 - t0),
        installMs: Math.round(t2 - t1),
        devToFirstAnswerMs: Math.round(t3 - t2),
        load1: Number(loadavg()[0]!.toFixed(1)),
      });
    } finally {
      const exited = once(dev, "exit");
      process.kill(-dev.pid!, "SIGTERM");
      await exited;
    }
    rmSync(join(app, ".cairn"), { recursive: true, force: true }); // the dev loop starts from no data

    log("the dev loop on that app");
    const loop = spawn(process.execPath, ["--import", "tsx", join(REPO, "bench/dev-loop.ts"), app], { cwd: REPO, stdio: "inherit" });
    const code = await new Promise<number | null>((done) => loop.once("exit", done));
    if (code !== 0) throw new Error(`bench/dev-loop.ts exited with ${code}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`new-app: FAILED: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
