// The shared-counter example: one Application serving the Counter actors and,
// from the same port, the web page built by `npm run web:build`.
//
//   npm run web:build && npx tsx examples/counter/server.ts [--port 9991] [--data-dir .cairn/counter]
//
// then open http://127.0.0.1:9991/ in two windows (or run
// `npx tsx examples/counter/client.ts`): each increment shows everywhere.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Application } from "@cairn-dev/cairn";
import { CounterServicerImpl } from "./servicer.js";

/** Where `npm run web:build` puts the page. */
export const WEB_DIST = fileURLToPath(new URL("./web/dist", import.meta.url));

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { port: { type: "string" }, host: { type: "string" }, "data-dir": { type: "string" } },
  strict: true,
});
const port = Number(values.port ?? process.env.CAIRN_PORT ?? "9991");
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`--port must be an integer in 0..65535, got ${JSON.stringify(values.port)}`);
  process.exit(2);
}
if (!existsSync(`${WEB_DIST}/index.html`)) {
  console.warn(`counter: ${WEB_DIST}/index.html is missing: run \`npm run web:build\` to build the page (the API works without it)`);
}
const app = new Application({
  servicers: [CounterServicerImpl],
  dataDir: values["data-dir"] ?? process.env.CAIRN_DATA_DIR ?? ".cairn/counter",
  host: values.host ?? process.env.CAIRN_HOST ?? "127.0.0.1",
  port,
  staticDir: WEB_DIST,
});
await app.run();
