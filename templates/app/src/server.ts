// The server: `npm run dev` while developing, `npm run build && npm start` in production.
// PORT or CAIRN_PORT (default 9991), CAIRN_HOST (default 127.0.0.1), CAIRN_DATA_DIR (default .cairn);
// CAIRN_TOKEN_SECRET: the secret bearer tokens are signed with (HMAC), for operators' `npx cairn …`.
import { Application, hmacTokenVerifier } from "@cairn-dev/cairn";
import { CounterServicerImpl } from "./servicer.js";

const port = Number(process.env.PORT ?? process.env.CAIRN_PORT ?? "9991");
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`PORT must be an integer in 0..65535, got ${JSON.stringify(process.env.PORT ?? process.env.CAIRN_PORT)}`);
  process.exit(2);
}

const app = new Application({
  servicers: [CounterServicerImpl],
  host: process.env.CAIRN_HOST ?? "127.0.0.1",
  port,
  dataDir: process.env.CAIRN_DATA_DIR ?? ".cairn",
  tokenVerifier: process.env.CAIRN_TOKEN_SECRET ? hmacTokenVerifier(process.env.CAIRN_TOKEN_SECRET) : undefined,
  // `cairn dev` sets CAIRN_DEV=1: on your machine, `npx cairn tasks list` needs no token.
  insecureDevelopmentMode: process.env.CAIRN_DEV === "1",
});
// Prints "cairn: serving on http://HOST:PORT"; stops cleanly on SIGINT or SIGTERM.
await app.run();
