// Starts examples/bank/server.ts as a real child process and waits until it
// serves. Used by `npm start` (main.ts) and by the end-to-end tests
// (test/e2e/helpers.ts re-exports it), so there is one piece of spawn code.
//
// The child is `node --import tsx server.ts`, not `node_modules/.bin/tsx
// server.ts`: the tsx binary runs the script in a grandchild process, so its
// PID is not the server's and a SIGKILL sent to it would leave the real
// server running, orphaned. With `--import tsx` the PID we hold is the
// process that owns the port and the LMDB environment.
import { spawn, type ChildProcess } from "node:child_process";
import * as net from "node:net";
import { fileURLToPath } from "node:url";

/** The repository root (this file is examples/bank/spawn.ts). */
export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const SERVER_SCRIPT = fileURLToPath(new URL("./server.ts", import.meta.url));

export interface SpawnServerOptions {
  dataDir: string;
  port: number;
  /** Default "127.0.0.1". */
  host?: string;
  /** Reject (and SIGKILL the child) if it is not serving by then. Default 20 s. */
  readyTimeoutMs?: number;
  /** Echo the child's output lines here (prefixed); default: keep quiet. */
  log?: (line: string) => void;
  /** Another server script (same flags); default examples/bank/server.ts. A .js or .mjs one runs on plain node, without tsx. */
  script?: string;
  /** Variables added to this process's environment for the child (e.g. NODE_ENV). */
  env?: Readonly<Record<string, string>>;
  /** Flags for node before the script (e.g. --cpu-prof for a benchmark). */
  nodeFlags?: readonly string[];
}

export interface ServerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnedServer {
  /** e.g. "http://127.0.0.1:9991", as printed by the server. */
  readonly url: string;
  readonly pid: number;
  /** Sends a signal to this process only (by PID). No-op once it exited. */
  kill(signal: NodeJS.Signals): void;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ServerExit>;
  /** Whether the process has exited. */
  readonly hasExited: boolean;
  /** The last lines the child printed (stdout and stderr), for diagnostics. */
  output(): string;
}

/** The startup line: readable (`cairn: serving on URL`), or the JSON record of NODE_ENV=production. */
const READY = /^cairn: serving on (http:\/\/\S+)\s*$|^\{.*"msg":"serving on (http:\/\/[^"\s]+)"/;

/** Spawns the bank server and resolves once it printed its "serving on" line. */
export async function spawnServer(options: SpawnServerOptions): Promise<SpawnedServer> {
  const script = options.script ?? SERVER_SCRIPT;
  const args = [
    ...(options.nodeFlags ?? []),
    // A JavaScript script (a bundle: bench/node-layouts.ts) runs on plain node, as in production.
    ...(/\.m?js$/.test(script) ? [] : ["--import", "tsx"]),
    script,
    "--data-dir",
    options.dataDir,
    "--port",
    String(options.port),
    "--host",
    options.host ?? "127.0.0.1",
  ];
  // The parent's NODE_OPTIONS (e.g. a test runner's loaders) are not the server's business.
  const env = { ...process.env, ...options.env };
  delete env.NODE_OPTIONS;
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env,
  });
  if (child.pid === undefined) {
    // spawn failed synchronously-ish; the 'error' event tells why.
    const err = await new Promise<Error>((resolve) => child.once("error", resolve));
    throw new Error(`could not spawn the server: ${err.message}`);
  }
  const pid = child.pid;

  const lines: string[] = [];
  let exited = false;
  const exitedPromise = new Promise<ServerExit>((resolve) => {
    child.once("exit", (code, signal) => {
      exited = true;
      resolve({ code, signal });
    });
    child.once("error", () => {
      // e.g. kill() on a dead process; 'exit' still reports the end.
    });
  });

  let onLine: (line: string) => void = () => {};
  for (const [name, stream] of [
    ["out", child.stdout],
    ["err", child.stderr],
  ] as const) {
    let pending = "";
    stream!.setEncoding("utf8");
    stream!.on("data", (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        lines.push(`[${name}] ${line}`);
        if (lines.length > 200) lines.shift();
        options.log?.(`server ${pid}: ${line}`);
        onLine(line);
      }
    });
  }

  const kill = (signal: NodeJS.Signals) => {
    if (exited) return;
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  };
  const output = () => lines.join("\n");

  const timeoutMs = options.readyTimeoutMs ?? 20_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    const url = await new Promise<string>((resolve, reject) => {
      onLine = (line) => {
        const m = READY.exec(line);
        if (m) resolve((m[1] ?? m[2])!);
      };
      void exitedPromise.then(({ code, signal }) =>
        reject(new Error(`the server exited before serving (code ${code}, signal ${signal}):\n${output()}`)),
      );
      timer = setTimeout(
        () => reject(new Error(`the server was not serving after ${timeoutMs} ms:\n${output()}`)),
        timeoutMs,
      );
    });
    onLine = () => {};
    return {
      url,
      pid,
      kill,
      exited: exitedPromise,
      get hasExited() {
        return exited;
      },
      output,
    };
  } catch (e) {
    kill("SIGKILL");
    await exitedPromise;
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** A port that was free a moment ago on `host` (listen(0), then close). */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * SIGTERM, then wait up to `graceMs` for the exit; SIGKILL if it is still
 * running. Resolves with how it ended.
 */
export async function stopServer(server: SpawnedServer, graceMs = 10_000): Promise<ServerExit> {
  server.kill("SIGTERM");
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), graceMs)));
  const first = await Promise.race([server.exited, late]);
  clearTimeout(timer);
  if (first === "late") {
    server.kill("SIGKILL");
    await server.exited;
    throw new Error(`the server (pid ${server.pid}) did not exit within ${graceMs} ms of SIGTERM; killed it`);
  }
  return first;
}
