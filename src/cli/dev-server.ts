// The server process of `cairn dev`, started ahead of need: it loads
// @cairn-dev/cairn (protobuf, connect, lmdb: most of a start), then tsx, and
// runs one throwaway TypeScript file through tsx so its transformer
// (esbuild's service) is up, then waits. A restart is then a swap: the old
// server stops (closing its LMDB environment and port) and says so, the
// spare is told to go and imports the user's entry, whose code it has not
// read yet, so it runs what is on disk now; the only file transformed then
// is the one that changed (tsx caches the others on disk). The old
// process's exit (seconds under load) overlaps the new start.
//
//   node dev-server.js ENTRY             (an IPC channel to cairn dev)
//   node --import tsx dev-server.ts ENTRY   (in this repository)
import { subscribe } from "node:diagnostics_channel";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { APPLICATION_CHANNEL, type ApplicationEvent } from "../api/lifecycle.js";
import { devTrace } from "./dev-trace.js";

const entry = process.argv[2];
if (!entry || !process.send) {
  console.error("cairn dev-server: run by cairn dev only");
  process.exit(2);
}
// The package as the entry resolves it, so the entry later gets this very
// module. Before tsx: its loader hooks would see each of the package's
// hundreds of modules go by (twice the load time), and they are plain JS.
try {
  await import(pathToFileURL(createRequire(entry).resolve("@cairn-dev/cairn")).href);
} catch {
  // Not resolvable from the entry (an unusual layout): nothing preloaded, the entry still runs.
}
// Run as TypeScript (in this repository) means tsx is already on.
if (!import.meta.url.endsWith(".ts")) {
  const [esm, cjs] = await Promise.all([import("tsx/esm/api"), import("tsx/cjs/api")]);
  esm.register();
  cjs.register();
}
await warmTransformer();

process.once("message", (message) => {
  if (message !== "go") return;
  devTrace("server: go received");
  // From here this is the server: the channel must not keep it alive, but
  // still says when the server serves ("started") and when it has let go of
  // its port and store ("stopped").
  process.channel?.unref();
  subscribe(APPLICATION_CHANNEL, (message) => {
    if (process.connected) process.send?.((message as ApplicationEvent).event);
  });
  import(pathToFileURL(entry).href).catch((e: unknown) => {
    // A syntax error (esbuild's TransformError) is its file:line and message;
    // the stack through esbuild's internals would only bury it.
    const syntax = e instanceof Error && e.message.startsWith("Transform failed");
    console.error(syntax ? `cairn dev: ${e.message}` : e);
    process.exit(1);
  });
});
devTrace("spare: ready");
process.send("ready");

/**
 * Imports a TypeScript file tsx has not seen (new content each time, so its
 * cache misses): the first transform starts esbuild's service, a few hundred
 * ms that would otherwise fall on the restart.
 */
async function warmTransformer(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "cairn-dev-"));
  try {
    const file = join(dir, "warm.mts");
    writeFileSync(file, `export const warm: string = ${JSON.stringify(`${process.pid} ${Date.now()}`)};\n`);
    await import(pathToFileURL(file).href);
  } catch {
    // Only a head start: the entry's import reports any real problem.
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
