// The bank example's server: one Application serving AccountServicerImpl.
//
//   npx tsx examples/bank/server.ts [--data-dir .cairn] [--port 9991] [--host 127.0.0.1]
//
// Flags win over the environment (CAIRN_DATA_DIR, CAIRN_PORT, CAIRN_HOST).
// Prints `cairn: serving on http://HOST:PORT` once ready and serves until
// SIGINT or SIGTERM, then closes the store after pending commits.
import { parseArgs } from "node:util";
import { Application, hmacTokenVerifier } from "@cairn-dev/cairn";
import { AccountServicerImpl, BANK_TOKEN_SECRET } from "./servicer.js";

function options(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      "data-dir": { type: "string" },
      port: { type: "string" },
      host: { type: "string" },
    },
    strict: true,
  });
  const dataDir = values["data-dir"] ?? process.env.CAIRN_DATA_DIR ?? ".cairn";
  const host = values.host ?? process.env.CAIRN_HOST ?? "127.0.0.1";
  const portText = values.port ?? process.env.CAIRN_PORT ?? "9991";
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error(`--port must be an integer in 0..65535, got ${JSON.stringify(portText)}`);
  }
  return { dataDir, host, port };
}

try {
  const { dataDir, host, port } = options(process.argv.slice(2));
  const app = new Application({
    servicers: [AccountServicerImpl],
    dataDir,
    host,
    port,
    tokenVerifier: hmacTokenVerifier(BANK_TOKEN_SECRET),
  });
  await app.run();
} catch (e) {
  console.error(`cairn: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
