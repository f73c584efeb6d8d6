// `cairn dev`: generate, serve, and on every change re-generate (.proto) or
// restart (.ts), keeping the data folder. The server runs under tsx (a
// dependency of this package): it starts TypeScript with no build step, and
// prints a syntax error with file, line and a code frame; type errors are
// left to `npm run build` and the editor. A spare server process waits with
// the framework and tsx loaded (dev-server.ts), so a restart is a swap, made
// as soon as the old server has closed its port and store; code is generated
// in this process, its plugins loaded once.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, watch, type FSWatcher } from "node:fs";
import { extname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { devTrace } from "./dev-trace.js";
import { EXIT, UsageError } from "./exit.js";
import { describeGenerated, generate, preloadPlugins, warmPlugins } from "./generate.js";
import { GENERATE_OPTIONS, GENERATE_OPTIONS_HELP, generateOptionsFrom } from "./generate-command.js";
import { parseCommand } from "./options.js";

const HELP = `Usage: cairn dev [options]

Generates code, starts the server entry under tsx, and watches: a change to a
.proto file re-generates and restarts, a change to a .ts file restarts. The
data folder (.cairn/ unless CAIRN_DATA_DIR says otherwise) is kept. Errors are
printed and the watch goes on. Stop with Ctrl-C.

  --entry FILE  the server (default src/server.ts)
  --src DIR     TypeScript folder to watch (default src; may repeat)
${GENERATE_OPTIONS_HELP}`;

/** Changes closer together than this are one change (an editor's save is events a few ms apart). */
const SETTLE_MS = 25;
/** How long a server gets to stop on SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 5_000;
/** A restart waits this long at most for calls in flight (CAIRN_DRAIN_TIMEOUT says otherwise). */
const DEV_DRAIN_TIMEOUT = "1s";

export async function devCommand(rest: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommand(
    rest,
    { ...GENERATE_OPTIONS, entry: { type: "string" }, src: { type: "string", multiple: true } },
    "dev",
  );
  if (values.help) {
    console.log(HELP);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected ${JSON.stringify(positionals[0])}`, "dev");
  const gen = generateOptionsFrom(values);
  const entry = resolve(values.entry ?? "src/server.ts");
  if (!existsSync(entry)) throw new UsageError(`no server entry ${entry} (--entry FILE)`, "dev");
  const srcDirs = (values.src?.length ? values.src : ["src"]).map((d) => resolve(d));
  const devServer = fileURLToPath(new URL(`./dev-server${extname(fileURLToPath(import.meta.url))}`, import.meta.url));
  // The compiled dev server loads tsx itself, after the framework; as TypeScript (this repository) it needs tsx first.
  const nodeArgs = devServer.endsWith(".ts") ? ["--import", import.meta.resolve("tsx")] : [];
  preloadPlugins();

  let closing = false;
  /** The next server: loading the framework, or ready and waiting for "go". */
  let spare: { child: ChildProcess; ready: Promise<boolean> } | undefined;
  const makeSpare = () => {
    const child = spawn(process.execPath, [...nodeArgs, devServer, entry], {
      stdio: ["inherit", "inherit", "inherit", "ipc"],
      env: { CAIRN_DEV: "1", CAIRN_DRAIN_TIMEOUT: DEV_DRAIN_TIMEOUT, ...process.env },
    });
    const ready = new Promise<boolean>((done) => {
      child.once("message", (m) => done(m === "ready"));
      child.once("exit", () => {
        if (spare?.child === child) spare = undefined;
        done(false);
      });
    });
    return { child, ready };
  };
  /** A spare that is ready, made now if the last one died (its error is on the terminal). */
  const takeSpare = async (): Promise<ChildProcess> => {
    for (let tries = 0; tries < 2 && !closing; tries++) {
      // Still `spare` while it loads, so Ctrl-C meanwhile ends it too.
      const next = (spare ??= makeSpare());
      const ready = await next.ready;
      devTrace("dev: spare ready");
      if (spare === next) spare = undefined;
      if (ready) return next.child;
    }
    throw new Error("cairn dev: the server process cannot start (see above)");
  };

  let server: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  /** The server has closed its port and store (it says "stopped"), or is gone. */
  let letGo: Promise<void> = Promise.resolve();
  /** Makes `child`, a ready spare, the server. */
  const start = (child: ChildProcess) => {
    devTrace("dev: go");
    child.send("go");
    server = child;
    // The next spare loads once this server serves (or is gone): loading
    // meanwhile would take CPU from its start, which the developer waits on.
    const prepareNext = () => {
      if (!closing) spare ??= makeSpare();
    };
    exited = new Promise<void>((done) =>
      child.once("exit", (code, signal) => {
        prepareNext();
        if (server === child) {
          server = undefined;
          console.error(`cairn dev: the server exited (${signal ?? `code ${code}`}); fix the error, it restarts on the next change`);
        }
        done();
      }),
    );
    const stopped = new Promise<void>((done) =>
      child.on("message", (m) => {
        if (m === "started") {
          devTrace("dev: the server serves");
          prepareNext();
        } else if (m === "stopped") {
          devTrace("dev: the old server stopped");
          done();
        }
      }),
    );
    letGo = Promise.race([stopped, exited]);
  };
  /** Stops the server; resolves once the next may start (or, with `untilExit`, once the process is gone). */
  const stop = async (untilExit = false) => {
    const child = server;
    server = undefined;
    if (child === undefined) return exited;
    devTrace("dev: stop the old server");
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
    void exited.then(() => clearTimeout(timer));
    await (untilExit ? exited : letGo);
  };
  const regenerate = async (): Promise<boolean> => {
    devTrace("dev: generate");
    const result = await generate(gen);
    if (!result.ok) {
      console.error(`cairn dev: code generation failed:\n${result.output}`);
      return false;
    }
    devTrace("dev: generated");
    console.log(`cairn dev: ${describeGenerated(gen)}`);
    return true;
  };

  spare = makeSpare();
  if (await regenerate()) {
    const first = await takeSpare();
    start(first);
    // Idle once it serves: the first .proto change then runs warm plugins.
    first.on("message", (m) => m === "started" && void warmPlugins());
  }

  // One change at a time: a change that arrives while one is handled is
  // handled after it, once, with everything that changed meanwhile.
  let pendingProto = false;
  let pendingTs = false;
  let timer: NodeJS.Timeout | undefined;
  let busy = false;
  const handle = async () => {
    if (busy) return;
    busy = true;
    try {
      while (pendingProto || pendingTs) {
        const proto = pendingProto;
        pendingProto = pendingTs = false;
        if (proto) {
          console.log("cairn dev: .proto changed: re-generating");
          if (!(await regenerate())) continue; // keep the running server on the old code
        } else {
          console.log("cairn dev: restarting");
        }
        // The old server serves until the next one is loaded and ready to go.
        const next = await takeSpare();
        await stop();
        start(next);
      }
    } finally {
      busy = false;
    }
  };
  const changed = (kind: "proto" | "ts") => {
    devTrace(`dev: ${kind} change seen`);
    if (kind === "proto") pendingProto = true;
    else pendingTs = true;
    clearTimeout(timer);
    timer = setTimeout(() => void handle(), SETTLE_MS);
  };
  const watchers: FSWatcher[] = [];
  for (const dir of gen.protoDirs.map((d) => resolve(d))) {
    watchers.push(watch(dir, { recursive: true }, (_e, file) => file?.endsWith(".proto") && changed("proto")));
  }
  for (const dir of srcDirs.filter((d) => existsSync(d))) {
    watchers.push(watch(dir, { recursive: true }, (_e, file) => /\.(m|c)?tsx?$|\.json$/.test(file ?? "") && changed("ts")));
  }
  console.log(`cairn dev: watching ${[...gen.protoDirs, ...(values.src ?? ["src"])].join(", ")} (Ctrl-C to stop)`);

  await new Promise<void>((done) => {
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
  });
  closing = true;
  for (const w of watchers) w.close();
  clearTimeout(timer);
  spare?.child.kill("SIGTERM");
  await stop(true);
  return EXIT.ok;
}
