import { connectNodeAdapter } from "@connectrpc/connect-node";
import { LmdbStore, type Durability } from "../store/lmdb-store.js";
import { reportParseErrorsAsInvalid } from "../transport/invalid-input.js";
import { registerActorRoutes } from "../transport/routes.js";
import { registerTaskRoutes } from "../transport/tasks-routes.js";
import { registerScheduleRoutes } from "../transport/schedules-routes.js";
import { registerActorsServiceRoutes } from "../transport/actors-routes.js";
import { registerReactiveRoutes } from "../transport/reactive-routes.js";
import { withFastWatch } from "../transport/fast-watch.js";
import { wireErrors } from "../transport/wire-errors.js";
import { staticFiles } from "../transport/static-files.js";
import { listen, type Listener } from "../transport/server.js";
import type { Runtime } from "../runtime/runtime.js";
import { ActorQueries } from "../runtime/actor-queries.js";
import { ScheduleQueries } from "../runtime/tasks/schedule-queries.js";
import { TaskQueries } from "../runtime/tasks/task-queries.js";
import { createRuntime } from "./create-runtime.js";
import type { Store } from "../store/store.js";
import type { StoreHealthStatus } from "../runtime/store-health.js";
import type { RetryPolicy } from "../runtime/tasks/retry-policy.js";
import type { TokenVerifier } from "../runtime/authorization.js";
import type { Clock } from "../runtime/clock.js";
import type { ServicerClass } from "../runtime/servicer.js";

export interface ApplicationOptions {
  servicers: readonly ServicerClass[];
  /** LMDB environment folder. Default "./.cairn". */
  dataDir?: string;
  /** Default "127.0.0.1". */
  host?: string;
  /** Default 9991; 0 picks a free port. */
  port?: number;
  /** Largest request accepted; larger ones get RESOURCE_EXHAUSTED. Default 4 MiB. */
  maxMessageBytes?: number;
  /** "relaxed" replies before fsync: faster, and loses acknowledged writes on a crash. */
  durability?: Durability;
  /** Decoded actor states kept in memory. Default 10,000. */
  maxCachedActors?: number;
  /** Verifies bearer tokens into claims for authorizers (an HMAC or JWT check). */
  tokenVerifier?: TokenVerifier;
  /**
   * Lets external callers reach servicers that have no authorizer. For
   * development only: the server says so loudly at start.
   */
  insecureDevelopmentMode?: boolean;
  /** Workflow retry backoff for unexpected errors. Default 1 s, x2, capped at 60 s. */
  retry?: Partial<RetryPolicy>;
  /**
   * Task runs in progress at once (a workflow awaiting a child task does not
   * count); more due tasks wait their turn. Default 1,000.
   */
  maxRunningTasks?: number;
  /**
   * A folder (e.g. a built web page) served for GET requests no RPC matches,
   * from the same port and origin as the API.
   */
  staticDir?: string;
  /** Time for timers, Loop, sleep, backoff and cron schedules. Default the system clock. */
  clock?: Clock;
  /**
   * Wraps the store the application opens, e.g. to inject storage faults
   * in tests. The wrapper must keep the `Store` contract.
   */
  wrapStore?: (store: Store) => Store;
}

/** Gauges of what the running application holds in memory, for operators and tests. */
export interface ApplicationStats {
  /** Callers (Tasks.Wait, direct workflow calls, workflows awaiting a child) waiting for a task to end. */
  readonly waitingCallers: number;
  /** Decoded actor states in the cache. */
  readonly cachedActors: number;
  /** Durable writes of task progress so far: reports are coalesced into few of them. */
  readonly progressWrites: number;
}

/** A Cairn application: servicers, their store, and one port serving them. */
export class Application {
  readonly #options: ApplicationOptions;
  #runtime: Runtime | undefined;
  #store: LmdbStore | undefined;
  #listener: Listener | undefined;

  constructor(options: ApplicationOptions) {
    this.#options = options;
  }

  /** The listening URL, once started. */
  get url(): string {
    if (!this.#listener) throw new Error("the application is not started");
    return `http://${this.#listener.host}:${this.#listener.port}`;
  }

  get port(): number {
    if (!this.#listener) throw new Error("the application is not started");
    return this.#listener.port;
  }

  get stats(): ApplicationStats {
    if (!this.#runtime) throw new Error("the application is not started");
    return { waitingCallers: this.#runtime.tasks.waiting, cachedActors: this.#runtime.cachedActors, progressWrites: this.#runtime.taskHub.writes };
  }

  /**
   * Whether the store takes writes: while `writable` is false (a full
   * disk, an I/O error), writes answer UNAVAILABLE and reads are served.
   * A readiness check reports "not ready for writes" from this.
   */
  get storeHealth(): StoreHealthStatus {
    if (!this.#runtime) throw new Error("the application is not started");
    return this.#runtime.health.status;
  }

  /** Opens the store and starts listening; resolves once ready. */
  async start(): Promise<this> {
    const o = this.#options;
    if (o.durability === "relaxed") {
      console.warn("cairn: durability is RELAXED: acknowledged writes can be lost on a crash");
    }
    this.#store = new LmdbStore({ path: o.dataDir ?? ".cairn", durability: o.durability });
    try {
      this.#runtime = createRuntime(o.wrapStore ? o.wrapStore(this.#store) : this.#store, o.servicers, {
        maxCachedActors: o.maxCachedActors,
        retry: o.retry,
        maxRunningTasks: o.maxRunningTasks,
        tokenVerifier: o.tokenVerifier,
        insecureDevelopmentMode: o.insecureDevelopmentMode,
        clock: o.clock,
      });
    } catch (e) {
      // A bad option (two servicers for one state, a bad retry policy): nothing stays open.
      await this.#store.close();
      this.#store = undefined;
      throw e;
    }
    const runtime = this.#runtime;
    if (o.insecureDevelopmentMode) warnInsecure(runtime);
    // The operator services read through these, never the store.
    const tasks = new TaskQueries(runtime.store, (id) => runtime.tasks.isRunning(id), runtime.taskHub);
    const schedules = new ScheduleQueries(runtime.store);
    const actors = new ActorQueries(runtime.specs, runtime.store);
    const maxBytes = o.maxMessageBytes ?? 4 * 1024 * 1024;
    const handler = connectNodeAdapter({
      routes: (router) => {
        registerActorRoutes(router, runtime);
        registerTaskRoutes(router, runtime, tasks);
        registerScheduleRoutes(router, runtime, schedules);
        registerActorsServiceRoutes(router, runtime, actors);
        registerReactiveRoutes(router, runtime);
        reportParseErrorsAsInvalid(router);
      },
      interceptors: [wireErrors],
      readMaxBytes: maxBytes,
      // Protobuf JSON parsers reject unknown fields: a typo is not a no-op.
      jsonOptions: { ignoreUnknownFields: false },
      fallback: o.staticDir === undefined ? undefined : staticFiles(o.staticDir),
    });
    // Watch over Connect skips connect's per-message pipeline: see fast-watch.ts.
    this.#listener = await listen(withFastWatch(runtime, maxBytes, handler), o.host ?? "127.0.0.1", o.port ?? 9991);
    await runtime.start();
    return this;
  }

  /** Starts, then serves until SIGINT or SIGTERM. */
  async run(): Promise<void> {
    await this.start();
    console.log(`cairn: serving on ${this.url}`);
    await new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
    await this.stop();
  }

  /** Stops listening and closes the store after pending commits. */
  async stop(): Promise<void> {
    await this.#listener?.close();
    await this.#runtime?.stop();
    await this.#store?.close();
    this.#listener = undefined;
    this.#store = undefined;
    this.#runtime = undefined;
  }
}

/** Says what insecureDevelopmentMode opens in this application, naming the servicers it leaves open. */
function warnInsecure(runtime: Runtime): void {
  const open = runtime.specs.filter((spec) => !runtime.bound(spec.typeName).authorizer).map((spec) => spec.typeName);
  if (open.length > 0) {
    console.warn(
      `cairn: INSECURE DEVELOPMENT MODE: anyone may call every method of ${open.join(", ")} (no authorizer), ` +
        `and make operator calls without an admin token`,
    );
  } else {
    console.warn("cairn: insecureDevelopmentMode: every servicer has an authorizer; anyone may still make operator calls (tasks, actors, schedules) without an admin token");
  }
}
