// The server process of `cairn dev`, started ahead of need: it loads tsx and
// @cairn-dev/cairn (protobuf, connect, lmdb: most of a start) at once, then
// waits. A restart is then a swap: the old server exits (closing its LMDB
// environment and port), the spare is told to go and imports the user's
// entry, whose code it has not read yet, so it runs what is on disk now.
//
//   node --import tsx dev-server.js ENTRY     (an IPC channel to cairn dev)
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const entry = process.argv[2];
if (!entry || !process.send) {
  console.error("cairn dev-server: run by cairn dev only");
  process.exit(2);
}
// The package as the entry resolves it, so the entry later gets this very module.
try {
  await import(pathToFileURL(createRequire(entry).resolve("@cairn-dev/cairn")).href);
} catch {
  // Not resolvable from the entry (an unusual layout): nothing preloaded, the entry still runs.
}
process.once("message", (message) => {
  if (message !== "go") return;
  // From here this is the server: the channel must not keep it alive.
  process.disconnect();
  import(pathToFileURL(entry).href).catch((e: unknown) => {
    // A syntax error (esbuild's TransformError) is its file:line and message;
    // the stack through esbuild's internals would only bury it.
    const syntax = e instanceof Error && e.message.startsWith("Transform failed");
    console.error(syntax ? `cairn dev: ${e.message}` : e);
    process.exit(1);
  });
});
process.send("ready");
