// `npm start`: the bank example end to end. Spawns the server as a child
// process on a free port with its data in .cairn/bank, drives it with the
// client, then stops it with SIGTERM. Exits 0 on success, 1 on any failure,
// and gives up (killing the server) after 60 s.
import * as path from "node:path";
import { driveBank } from "./client.js";
import { REPO_ROOT, freePort, spawnServer, stopServer, type SpawnedServer } from "./spawn.js";

const OVERALL_TIMEOUT_MS = 60_000;

async function main(): Promise<void> {
  const dataDir = path.join(REPO_ROOT, ".cairn", "bank");
  const port = await freePort();
  let server: SpawnedServer | undefined;
  const watchdog = setTimeout(() => {
    console.error(`bank example: no result after ${OVERALL_TIMEOUT_MS / 1000} s, giving up`);
    server?.kill("SIGKILL");
    process.exit(1);
  }, OVERALL_TIMEOUT_MS);
  try {
    console.log(`starting the bank server (data dir ${path.relative(process.cwd(), dataDir) || "."}, port ${port})`);
    server = await spawnServer({ dataDir, port, log: (line) => console.log(line) });
    await driveBank(server.url);
    const exit = await stopServer(server);
    if (exit.code !== 0) throw new Error(`the server exited with code ${exit.code} (signal ${exit.signal})`);
    console.log(`stopped the server (pid ${server.pid}) with SIGTERM; it exited cleanly`);
    console.log("bank example: all steps passed");
  } catch (e) {
    if (server && !server.hasExited) {
      server.kill("SIGKILL");
      await server.exited;
    }
    throw e;
  } finally {
    clearTimeout(watchdog);
  }
}

main().catch((e: unknown) => {
  console.error(`bank example failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});
