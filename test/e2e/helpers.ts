// Shared helpers for tests that run real server processes. The spawn code
// lives in examples/bank/spawn.ts (npm start uses it too); this re-exports it
// and adds what tests need on top.
import { mkdtemp, rm } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";

import { ExternalContext, type ExternalContextOptions } from "@cairn-dev/cairn";
import { within as withinPatience } from "../fixtures/waiting.js";
import {
  spawnServer as spawnExampleServer,
  type ServerExit,
  type SpawnServerOptions,
  type SpawnedServer,
} from "../../examples/bank/spawn.js";

export { freePort, stopServer, type ServerExit, type SpawnServerOptions, type SpawnedServer } from "../../examples/bank/spawn.js";

/**
 * How long a server process may take to start serving: a fresh node + tsx
 * process with both cores busy takes tens of seconds. It only bounds a hang.
 */
export const SERVER_READY_MS = 120_000;

/** spawnServer (examples/bank/spawn.ts) with the tests' generous start deadline. */
export function spawnServer(options: SpawnServerOptions): Promise<SpawnedServer> {
  return spawnExampleServer({ readyTimeoutMs: SERVER_READY_MS, ...options });
}

/** SIGKILLs `server` and waits for it to exit (bounded), for a test that kills mid-load. */
export function killHard(server: SpawnedServer): Promise<ServerExit> {
  server.kill("SIGKILL");
  return within(30_000, `exit of server ${server.pid}`, server.exited);
}

/**
 * The server processes, clients and data folders one suite makes, so its
 * afterAll can end them all with `close()`: clients closed, every server
 * still running SIGKILLed, then the folders removed.
 */
export class ServerProcesses {
  readonly #servers: SpawnedServer[] = [];
  readonly #closers: Array<() => void> = [];
  readonly #dirs: string[] = [];

  /** A fresh, empty folder, removed by `close()`. */
  async tempDataDir(prefix: string): Promise<string> {
    const dir = await tempDataDir(prefix);
    this.#dirs.push(dir);
    return dir;
  }

  async spawn(options: SpawnServerOptions): Promise<SpawnedServer> {
    const server = await spawnServer(options);
    this.#servers.push(server);
    return server;
  }

  /** An ExternalContext on `url`, closed by `close()`. */
  connect(url: string, options: Omit<ExternalContextOptions, "url"> = {}): ExternalContext {
    const ctx = new ExternalContext({ url, ...options });
    this.#closers.push(() => ctx.close());
    return ctx;
  }

  /** Runs `close` in `close()`, for other clients. */
  onClose(close: () => void): void {
    this.#closers.push(close);
  }

  async close(): Promise<void> {
    for (const close of this.#closers) close();
    for (const server of this.#servers) {
      if (!server.hasExited) await killHard(server).catch(() => {});
    }
    for (const dir of this.#dirs) await removeDir(dir);
  }
}

/** A fresh, empty data directory under the OS temp folder. */
export function tempDataDir(prefix = "cairn-e2e-"): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

export function removeDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true });
}

/** Resolves with `promise`, or rejects after `ms` saying what was waited for (fixtures/waiting.ts's, deadline first). */
export function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  return withinPatience(promise, ms, what);
}

/** Runs `work` over `items` with at most `limit` at once; stops on the first error. */
export async function forEachLimit<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        await work(item);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
