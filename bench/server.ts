/**
 * The server side of the benchmark, run in its own process (as users deploy)
 * by bench/run.ts: `server.ts baseline|cairn`. Talks to its parent over the
 * fork IPC channel: sends {type:"ready", port}, answers {type:"stats"} with
 * its CPU and memory, and on {type:"stop"} closes and exits (so a
 * `--cpu-prof` profile gets written).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { Application, hmacTokenVerifier } from "../src/index.js";
import { listen } from "../src/transport/server.js";
import { AccountServicerImpl, BANK_TOKEN_SECRET } from "../examples/bank/servicer.js";
import { AccountMethods } from "../generated/bank/v1/account_pb.js";
import { serveAsBenchChild } from "./child.js";

export type ServerMode = "baseline" | "cairn";

async function main(): Promise<void> {
  const mode = process.argv[2] as ServerMode;
  let close: () => Promise<void>;
  let port: number;
  if (mode === "baseline") {
    // Same one-port server and adapter options as Application, same messages,
    // no runtime and no storage.
    const handler = connectNodeAdapter({
      routes: (router) => {
        router.rpc(AccountMethods.method.deposit, async () => ({ balance: 1n }));
      },
      readMaxBytes: 4 * 1024 * 1024,
    });
    const listener = await listen(handler, "127.0.0.1", 0);
    port = listener.port;
    close = () => listener.close();
  } else if (mode === "cairn") {
    const dataDir = mkdtempSync(join(tmpdir(), "cairn-bench-"));
    // The bank's authorizer lets only an account's owner transfer out of it:
    // the transaction scenario presents a token signed with the example's secret.
    const app = new Application({
      servicers: [AccountServicerImpl],
      dataDir,
      host: "127.0.0.1",
      port: 0,
      tokenVerifier: hmacTokenVerifier(BANK_TOKEN_SECRET),
    });
    await app.start();
    port = app.port;
    close = async () => {
      await app.stop();
      rmSync(dataDir, { recursive: true, force: true });
    };
  } else {
    throw new Error(`unknown mode ${String(mode)}; expected baseline or cairn`);
  }

  serveAsBenchChild(port, close);
}

main().catch((e: unknown) => {
  console.error("bench server:", e);
  process.exit(1);
});
