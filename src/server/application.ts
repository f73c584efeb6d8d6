import { channel } from "node:diagnostics_channel";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { APPLICATION_CHANNEL, type ApplicationEvent } from "../api/lifecycle.js";
import { LmdbStore, type Durability } from "../store/lmdb-store.js";
import { reportParseErrorsAsInvalid } from "../transport/invalid-input.js";
import { registerActorRoutes } from "../transport/routes.js";
import { registerTaskRoutes } from "../transport/tasks-routes.js";
import { registerScheduleRoutes } from "../transport/schedules-routes.js";
import { registerActorsServiceRoutes } from "../transport/actors-routes.js";
import { registerAdminRoutes } from "../transport/admin-routes.js";
import { registerReactiveRoutes } from "../transport/reactive-routes.js";
import { registerReflectionRoutes } from "../transport/reflection-routes.js";
import { withFastWatch } from "../transport/fast-watch.js";
import { withFastUnary } from "../transport/fast-unary.js";
import { wireErrors } from "../transport/wire-errors.js";
import { staticFiles } from "../transport/static-files.js";
import { listen, type Listener } from "../transport/server.js";
import { Drain } from "../transport/drain.js";
import { withHealthEndpoints } from "../transport/health-endpoints.js";
import { withInspector } from "../transport/inspector-route.js";
import { inspectorAccess } from "./inspector-options.js";
import { tlsCredentialsFrom, type TlsOptions } from "./tls-credentials.js";
import { defaultLogger } from "./default-logger.js";
import type { Logger } from "../api/logger.js";
import { parseDuration } from "../runtime/duration.js";
import type { Runtime } from "../runtime/runtime.js";
import { ActorQueries } from "../runtime/actor-queries.js";
import { AdminQueries } from "../runtime/admin-queries.js";
import { ScheduleQueries } from "../runtime/tasks/schedule-queries.js";
import { TaskQueries } from "../runtime/tasks/task-queries.js";
import { createRuntime } from "./create-runtime.js";
import type { Store } from "../store/store.js";
import type { StoreHealthStatus } from "../runtime/store-health.js";
import type { RetryPolicy } from "../runtime/tasks/retry-policy.js";
import type { TokenVerifier } from "../runtime/authorization.js";
import type { Clock } from "../runtime/clock.js";
import type { ServicerClass } from "../runtime/servicer.js";
import { systemClock } from "../runtime/clock.js";
import { RetentionSweeper } from "../runtime/retention-sweeper.js";
import { retentionPolicy, type RetentionOptions } from "./retention-options.js";

export interface ApplicationOptions {
  servicers: readonly ServicerClass[];
  /** LMDB environment folder. Default "./.cairn". */
  dataDir?: string;
  /** Default "127.0.0.1". */
  host?: string;
  /** Default 9991; 0 picks a free port. */
  port?: number;
  /**
   * Serve TLS (HTTP/2 and HTTP/1.1 by ALPN) with this certificate and key:
   * PEM text or buffers, or file paths. Default the files named by
   * CAIRN_TLS_CERT and CAIRN_TLS_KEY, else cleartext.
   */
  tls?: TlsOptions;
  /**
   * How long `stop()` (and SIGTERM under `run()`) lets running calls finish
   * before closing, e.g. "10s". Default CAIRN_DRAIN_TIMEOUT, else "10s".
   */
  drainTimeout?: string | number;
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
  /**
   * Serves gRPC server reflection (grpc.reflection.v1 and v1alpha): the
   * descriptors of every served service, so `cairn tasks show` prints
   * results as JSON and grpcurl or Postman need no .proto files. Default
   * true; false when the API's shape must not be public.
   */
  reflection?: boolean;
  /**
   * The web inspector at /__/cairn/ (README "The inspector"). Default on;
   * in production (NODE_ENV=production) only for operators' tokens, as
   * "operators" asks everywhere; false, or CAIRN_INSPECTOR=off, turns it off.
   */
  inspector?: boolean | "operators";

  /**
   * Internal: serve unary actor calls on the fast path (fast-unary.ts).
   * Default true; false sends them through connect's handler, so tests
   * and benchmarks can hold the two paths side by side.
   */
  fastUnaryPath?: boolean;
  /**
   * Where the server's log records go (a pino logger fits). Default pino
   * on stdout: JSON lines when NODE_ENV=production, readable lines
   * otherwise; level CAIRN_LOG_LEVEL, else "info".
   */
  logger?: Logger;
  /**
   * The version of the code this process runs (a release tag, a commit),
   * recorded on every task it creates and shown by Tasks.Get and `cairn
   * tasks show`: which in-flight workflows started on which deploy.
   * Default CAIRN_CODE_VERSION, else none.
   */
  version?: string;
  /**
   * How long ended tasks (with memos, events, progress) and idempotency
   * records are kept: durations like "7d", or false to keep them forever.
   * Defaults: CAIRN_TASK_RETENTION / CAIRN_IDEMPOTENCY_RETENTION, else
   * tasks "7d", idempotency "1d". Expired records are deleted in the background.
   */
  retention?: RetentionOptions;
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
  #drain: Drain | undefined;
  #drainMs = DEFAULT_DRAIN_MS;
  #logger: Logger | undefined;
  #retention: RetentionSweeper | undefined;
  /** Recovery done: tasks re-armed, schedules loaded. */
  #recovered = false;

  constructor(options: ApplicationOptions) {
    this.#options = options;
  }

  /** The listening URL, once started. */
  get url(): string {
    if (!this.#listener) throw new Error("the application is not started");
    return `${this.#listener.scheme}://${this.#listener.host}:${this.#listener.port}`;
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
    const credentials = tlsCredentialsFrom(o.tls);
    const drainMs = drainTimeoutMs(o.drainTimeout);
    // Made once: a restart writes to the same logger.
    const logger = (this.#logger ??= o.logger ?? defaultLogger());
    const retention = retentionPolicy(o.retention);
    const clock = o.clock ?? systemClock;
    if (o.durability === "relaxed") {
      logger.warn("durability is RELAXED: acknowledged writes can be lost on a crash");
    }
    this.#store = new LmdbStore({ path: o.dataDir ?? ".cairn", durability: o.durability, logger, now: () => clock.now() });
    try {
      this.#runtime = createRuntime(o.wrapStore ? o.wrapStore(this.#store) : this.#store, o.servicers, {
        maxCachedActors: o.maxCachedActors,
        retry: o.retry,
        maxRunningTasks: o.maxRunningTasks,
        tokenVerifier: o.tokenVerifier,
        insecureDevelopmentMode: o.insecureDevelopmentMode,
        clock: o.clock,
        logger,
        codeVersion: codeVersion(o.version),
      });
    } catch (e) {
      // A bad option (two servicers for one state, a bad retry policy): nothing stays open.
      await this.#store.close();
      this.#store = undefined;
      throw e;
    }
    const runtime = this.#runtime;
    if (o.insecureDevelopmentMode) warnInsecure(runtime, logger);
    // The operator services read through these, never the store.
    const tasks = new TaskQueries(runtime.store, (id) => runtime.tasks.isRunning(id), runtime.taskHub, responseTypes(runtime));
    const schedules = new ScheduleQueries(runtime.store);
    const actors = new ActorQueries(runtime.specs, runtime.store);
    const admin = new AdminQueries(runtime.specs, this.#store);
    const maxBytes = o.maxMessageBytes ?? 4 * 1024 * 1024;
    const drain = new Drain();
    this.#drain = drain;
    this.#drainMs = drainMs;
    const duplexPaths = new Set<string>();
    // Protobuf JSON parsers reject unknown fields: a typo is not a no-op.
    const jsonOptions = { ignoreUnknownFields: false };
    const handler = connectNodeAdapter({
      routes: (router) => {
        registerActorRoutes(router, runtime);
        registerTaskRoutes(router, runtime, tasks);
        registerScheduleRoutes(router, runtime, schedules);
        registerActorsServiceRoutes(router, runtime, actors, admin);
        registerAdminRoutes(router, runtime, admin);
        registerReactiveRoutes(router, runtime);
        if (o.reflection !== false) registerReflectionRoutes(router, runtime.specs.map((s) => s.state));
        reportParseErrorsAsInvalid(router);
        for (const h of router.handlers) if (h.method.methodKind === "bidi_streaming") duplexPaths.add(h.requestPath);
      },
      // The outer one maps what the inner ones throw too (the drain's refusals).
      interceptors: [wireErrors, drain.interceptor],
      readMaxBytes: maxBytes,
      jsonOptions,
      fallback: o.staticDir === undefined ? undefined : staticFiles(o.staticDir),
    });
    // Watch over Connect skips connect's per-message pipeline: see fast-watch.ts.
    const readiness = () => this.#notReadyReason(runtime, drain);
    let served = withFastWatch(runtime, maxBytes, handler, drain);
    // Unary actor calls skip connect's per-request machinery: see fast-unary.ts.
    if (o.fastUnaryPath !== false) served = withFastUnary(runtime, { readMaxBytes: maxBytes, jsonOptions }, served, drain);
    const inspector = inspectorAccess(o.inspector);
    if (inspector) served = withInspector(inspector, (caller) => runtime.authorizeAdmin(caller), served);
    served = withHealthEndpoints(readiness, served);
    this.#listener = await listen(served, o.host ?? "127.0.0.1", o.port ?? 9991, credentials, duplexPaths);
    await runtime.start();
    this.#retention = new RetentionSweeper(runtime, retention);
    this.#retention.start();
    this.#recovered = true;
    return this;
  }

  /**
   * Starts, then serves until SIGINT or SIGTERM; then stops gracefully
   * (see `stop()`). The process ends once stopped: if anything a cut-off
   * call left behind keeps it alive, it exits a second later anyway.
   */
  async run(): Promise<void> {
    await this.start();
    // Tools wait for this line (with the readable default: `cairn: serving on URL` on stdout).
    const logger = this.#logger!;
    logger.info(`serving on ${this.url}`);
    // Only the first signal drains: with our listeners gone, a second one ends the process at once.
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      const drain = (name: NodeJS.Signals) => {
        process.off("SIGINT", drain);
        process.off("SIGTERM", drain);
        resolve(name);
      };
      process.on("SIGINT", drain);
      process.on("SIGTERM", drain);
    });
    logger.info(`${signal}: draining for up to ${this.#drainMs} ms`);
    await this.stop();
    logger.info("stopped");
    // A call cut off at the bound may leave timers behind (its deadline):
    // they must not keep a stopped server's process alive.
    setTimeout(() => process.exit(process.exitCode ?? 0), EXIT_GRACE_MS).unref();
  }

  /**
   * Stops gracefully: new calls get UNAVAILABLE and /readyz answers 503,
   * open streams and task waits end with UNAVAILABLE "server stopping",
   * running workflows stop at their next durable step (they resume after
   * a restart), unary calls already running get up to `drainTimeout` to
   * answer; then the port and the store close.
   */
  async stop(): Promise<void> {
    const deadline = Date.now() + this.#drainMs;
    this.#drain?.begin();
    await Promise.all([this.#runtime?.stop(this.#drainMs), this.#drain?.settled(this.#drainMs), this.#retention?.stop()]);
    this.#retention = undefined;
    // Answers just given still have to go out.
    await this.#listener?.close(Math.min(FLUSH_GRACE_MS, Math.max(0, deadline - Date.now())));
    await this.#store?.close();
    this.#listener = undefined;
    this.#store = undefined;
    this.#runtime = undefined;
    this.#drain = undefined;
    this.#recovered = false;
    lifecycle.publish({ event: "stopped" } satisfies ApplicationEvent);
  }

  /** What /readyz reports: undefined when ready. */
  #notReadyReason(runtime: Runtime, drain: Drain): string | undefined {
    if (drain.draining) return "draining: the server is stopping";
    if (!this.#recovered) return "starting: recovery is not done";
    const health = runtime.health.status;
    if (!health.writable) return `store not writable: ${health.reason ?? "failing"}`;
    return undefined;
  }
}

/** Tells tools in this process (cairn dev's server process) what the application does. */
const lifecycle = channel(APPLICATION_CHANNEL);

const DEFAULT_DRAIN_MS = 10_000;
/** The longest a stop waits, within the drain bound, for answers to reach their clients. */
const FLUSH_GRACE_MS = 2_000;
/** After `run()` has stopped, how long leftovers may keep the process alive. */
const EXIT_GRACE_MS = 1_000;

/** The drain bound: the option, else CAIRN_DRAIN_TIMEOUT, else 10 s. */
function drainTimeoutMs(option: string | number | undefined, env = process.env): number {
  const given = option ?? env.CAIRN_DRAIN_TIMEOUT;
  return given === undefined || given === "" ? DEFAULT_DRAIN_MS : parseDuration(given);
}

/** The code version: the option, else CAIRN_CODE_VERSION, else none. */
function codeVersion(option: string | undefined, env = process.env): string | undefined {
  const given = option ?? env.CAIRN_CODE_VERSION;
  return given === undefined || given === "" ? undefined : given;
}

/** Says what insecureDevelopmentMode opens in this application, naming the servicers it leaves open. */
function warnInsecure(runtime: Runtime, logger: Logger): void {
  const open = runtime.specs.filter((spec) => !runtime.bound(spec.typeName).authorizer).map((spec) => spec.typeName);
  if (open.length > 0) {
    logger.warn(
      `INSECURE DEVELOPMENT MODE: anyone may call every method of ${open.join(", ")} (no authorizer), ` +
        `and make operator calls without an admin token`,
    );
  } else {
    logger.warn("insecureDevelopmentMode: every servicer has an authorizer; anyone may still make operator calls (tasks, actors, schedules) without an admin token");
  }
}

/** The response type of each served method, for task views ("" for a method no longer served). */
function responseTypes(runtime: Runtime): (stateType: string, method: string) => string {
  return (stateType, method) => {
    const methods = runtime.specs.find((s) => s.typeName === stateType)?.methods ?? {};
    return Object.hasOwn(methods, method) ? (methods[method]?.desc.output.typeName ?? "") : "";
  };
}
