// The server process of `cairn dev`, started ahead of need: it loads tsx and
// @cairn-dev/cairn (protobuf, connect, lmdb: most of a start) at once, then
// waits. A restart is then a swap: the old server stops (closing its LMDB
// environment and port) and says so, the spare is told to go and imports the
// user's entry, whose code it has not read yet, so it runs what is on disk
// now. The old process's exit (seconds under load) overlaps the new start.
//
//   node --import tsx dev-server.js ENTRY     (an IPC channel to cairn dev)
import { subscribe } from "node:diagnostics_channel";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { APPLICATION_CHANNEL, type ApplicationEvent } from "../api/lifecycle.js";

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
  // From here this is the server: the channel must not keep it alive, but
  // still says when the server has let go of its port and store.
  process.channel?.unref();
  subscribe(APPLICATION_CHANNEL, (message) => {
    if ((message as ApplicationEvent).event === "stopped" && process.connected) process.send?.("stopped");
  });
  import(pathToFileURL(entry).href).catch((e: unknown) => {
    // A syntax error (esbuild's TransformError) is its file:line and message;
    // the stack through esbuild's internals would only bury it.
    const syntax = e instanceof Error && e.message.startsWith("Transform failed");
    console.error(syntax ? `cairn dev: ${e.message}` : e);
    process.exit(1);
  });
});
process.send("ready");
