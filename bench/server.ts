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

export type ServerMode = "baseline" | "cairn";

export type ToServer = { type: "stats" } | { type: "stop" };
export type FromServer =
  | { type: "ready"; port: number }
  | { type: "stats"; cpuUserUs: number; cpuSystemUs: number; rssBytes: number; heapUsedBytes: number };

const send = (m: FromServer): void => {
  process.send?.(m);
};

async function main(): Promise<void> {
  const mode = process.argv[2] as ServerMode;
  if (!process.send) throw new Error("bench/server.ts must be started by bench/run.ts (needs an IPC channel)");
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

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    const timer = setTimeout(() => process.exit(2), 5_000);
    timer.unref();
    await close();
    process.exit(0);
  };
  process.on("message", (m: ToServer) => {
    if (m.type === "stats") {
      const cpu = process.cpuUsage();
      const mem = process.memoryUsage();
      send({ type: "stats", cpuUserUs: cpu.user, cpuSystemUs: cpu.system, rssBytes: mem.rss, heapUsedBytes: mem.heapUsed });
    } else if (m.type === "stop") {
      void stop();
    }
  });
  // The parent went away without saying stop: do not linger.
  process.on("disconnect", () => void stop());
  send({ type: "ready", port });
}

main().catch((e: unknown) => {
  console.error("bench server:", e);
  process.exit(1);
});
