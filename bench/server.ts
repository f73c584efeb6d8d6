/**
 * The server side of the benchmark, run in its own process (as users deploy)
 * by bench/run.ts and bench/unary.ts: `server.ts <mode>` (see ServerMode). Talks to its parent over the
 * fork IPC channel: sends {type:"ready", port}, answers {type:"stats"} with
 * its CPU and memory, and on {type:"stop"} closes and exits (so a
 * `--cpu-prof` profile gets written).
 */
import { mkdtempSync, rmSync } from "node:fs";
import * as http from "node:http";
import * as http2 from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { Application, hmacTokenVerifier } from "../src/index.js";
import { listen } from "../src/transport/server.js";
import { AccountServicerImpl, BANK_TOKEN_SECRET } from "../examples/bank/servicer.js";
import { ProbeServicerImpl } from "../test/fixtures/probe-servicer.js";
// Registers the probe's workflow bodies (steps10 for bench/unary.ts).
import "../test/fixtures/probe-scenarios.js";
import { AccountMethods } from "../generated/bank/v1/account_pb.js";
import { serveAsBenchChild } from "./child.js";

/**
 * - baseline: a trivial Connect handler on the one-port server;
 * - cairn: the bank (and the probe, for workflows) on Application;
 * - cairn-connect-path: the same with the unary fast path off (connect's handler only);
 * - floor-h1, floor-h2: bare node:http / node:http2 answering a fixed body, the machine's floor.
 */
export type ServerMode = "baseline" | "cairn" | "cairn-connect-path" | "floor-h1" | "floor-h2";

/** A fixed Connect answer ({balance: 1}), as the floor servers send it. */
const FIXED_BODY = Buffer.from([0x08, 0x01]);
const FIXED_HEADERS = { "content-type": "application/proto", "content-length": String(FIXED_BODY.length) };

/** The floor: node's own server, reading the body and answering fixed bytes. */
async function listenFloor(protocol: "h1" | "h2"): Promise<{ port: number; close: () => Promise<void> }> {
  const answer = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => {
    req.on("data", () => {});
    req.on("end", () => {
      res.writeHead(200, FIXED_HEADERS);
      res.end(FIXED_BODY);
    });
  };
  const server = protocol === "h1" ? http.createServer({ noDelay: true, keepAliveTimeout: 60_000 }, answer) : http2.createServer({}, answer);
  if (protocol === "h2") server.on("connection", (s: import("node:net").Socket) => s.setNoDelay(true));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as import("node:net").AddressInfo).port;
  return { port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

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
  } else if (mode === "floor-h1" || mode === "floor-h2") {
    ({ port, close } = await listenFloor(mode === "floor-h1" ? "h1" : "h2"));
  } else if (mode === "cairn" || mode === "cairn-connect-path") {
    const dataDir = mkdtempSync(join(tmpdir(), "cairn-bench-"));
    // The bank's authorizer lets only an account's owner transfer out of it:
    // the transaction scenario presents a token signed with the example's secret.
    const app = new Application({
      servicers: [AccountServicerImpl, ProbeServicerImpl],
      dataDir,
      fastUnaryPath: mode === "cairn",
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
    throw new Error(`unknown mode ${String(mode)}; expected baseline, cairn, cairn-connect-path, floor-h1 or floor-h2`);
  }

  serveAsBenchChild(port, close);
}

main().catch((e: unknown) => {
  console.error("bench server:", e);
  process.exit(1);
});
