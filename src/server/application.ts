import { channel } from "node:diagnostics_channel";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { APPLICATION_CHANNEL, type ApplicationEvent } from "../api/lifecycle.js";
import { openPartitions, type OpenedPartitions } from "./open-partitions.js";
import { testCrashPoint } from "./test-crash-point.js";
import { testTwoPhaseBounds } from "./test-two-phase-bounds.js";
import { partitionCount, partitionDirs } from "./partition-layout.js";
import { reportParseErrorsAsInvalid } from "../transport/invalid-input.js";
import { registerActorRoutes } from "../transport/routes.js";
import { registerTaskRoutes } from "../transport/tasks-routes.js";
import { registerScheduleRoutes } from "../transport/schedules-routes.js";
import { registerActorsServiceRoutes } from "../transport/actors-routes.js";
import { registerAdminRoutes } from "../transport/admin-routes.js";
import { registerReactiveRoutes } from "../transport/reactive-routes.js";
import { registerReflectionRoutes } from "../transport/reflection-routes.js";
import { withFastWatch } from "../transport/fast-watch.js";
import { FastUnary } from "../transport/fast-unary.js";
import { wireErrors } from "../transport/wire-errors.js";
import { staticFiles } from "../transport/static-files.js";
import { listen, type Listener } from "../transport/server.js";
import { Drain } from "../transport/drain.js";
import { withHealthEndpoints } from "../transport/health-endpoints.js";
import { withInspector } from "../transport/inspector-route.js";
import { inspectorAccess } from "./inspector-options.js";
import { tlsCredentialsFrom } from "./tls-credentials.js";
import { defaultLogger } from "./default-logger.js";
import type { Logger } from "../api/logger.js";
import { parseDuration } from "../runtime/duration.js";
import type { Runtime } from "../runtime/runtime.js";
import { ActorQueries } from "../runtime/actor-queries.js";
import { AdminQueries } from "../runtime/admin-queries.js";
import { ScheduleQueries } from "../runtime/tasks/schedule-queries.js";
import { TaskQueries } from "../runtime/tasks/task-queries.js";
import type { StoreHealthStatus } from "../runtime/store-health.js";
import { systemClock } from "../runtime/clock.js";
import { RetentionSweeper } from "../runtime/retention-sweeper.js";
import { retentionPolicy } from "./retention-options.js";
import { NodeServer } from "./node-server.js";
import { nodeCount, nodeIdentity } from "./node-environment.js";
import { reportReady, supervise } from "./supervisor.js";
import { firstStopSignal } from "./stop-signal.js";

export type { ApplicationOptions } from "./application-options.js";
import type { ApplicationOptions } from "./application-options.js";

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
  /** The runtime that takes calls from the wire (the first hosted partition's); it routes to the others. */
  #runtime: Runtime | undefined;
  #opened: OpenedPartitions | undefined;
  #listener: Listener | undefined;
  #drain: Drain | undefined;
  #drainMs = DEFAULT_DRAIN_MS;
  #logger: Logger | undefined;
  #retention: RetentionSweeper[] = [];
  #node: NodeServer | undefined;
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
    const all = this.#runtimes();
    const sum = (f: (r: Runtime) => number) => all.reduce((n, r) => n + f(r), 0);
    return { waitingCallers: sum((r) => r.tasks.waiting), cachedActors: sum((r) => r.cachedActors), progressWrites: sum((r) => r.taskHub.writes) };
  }

  /** The partition count of the data directory (once started). */
  get partitions(): number {
    if (!this.#opened) throw new Error("the application is not started");
    return this.#opened.partitions.count;
  }

  /** The hosted partitions' runtimes, in order. */
  #runtimes(): Runtime[] {
    if (!this.#opened) throw new Error("the application is not started");
    return this.#opened.hosted.map((h) => h.runtime);
  }

  /**
   * Whether the store takes writes: while `writable` is false (a full
   * disk, an I/O error), writes answer UNAVAILABLE and reads are served.
   * A readiness check reports "not ready for writes" from this.
   */
  get storeHealth(): StoreHealthStatus {
    // With several partitions: the first one that refuses writes, else the first.
    const statuses = this.#runtimes().map((r) => r.health.status);
    return statuses.find((s) => !s.writable) ?? statuses[0]!;
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
    // With several nodes, N defaults to M and this node opens its share (placement.ts).
    const nodes = nodeCount(o.nodes);
    const node = (this.#node = NodeServer.of(nodes, partitionCount(o.partitions, process.env, nodes)));
    const dataDir = o.dataDir ?? ".cairn";
    const twoPhase = testTwoPhaseBounds();
    const opened = await this.#open(node, dataDir, () => openPartitions({
      dataDir,
      count: node?.placement.partitions ?? partitionCount(o.partitions),
      hosted: node?.placement.hosted ?? o.hostedPartitions,
      durability: o.durability,
      logger,
      now: () => clock.now(),
      wrapStore: o.wrapStore,
      servicers: o.servicers,
      watchers: node?.watchers,
      elsewhere: node?.calls,
      runtime: {
        maxCachedActors: o.maxCachedActors,
        retry: o.retry,
        maxRunningTasks: o.maxRunningTasks,
        tokenVerifier: o.tokenVerifier,
        insecureDevelopmentMode: o.insecureDevelopmentMode,
        clock: o.clock,
        logger,
        codeVersion: codeVersion(o.version),
        testPoint: testCrashPoint(),
        twoPhase,
      },
    }));
    this.#opened = opened;
    const runtime = (this.#runtime = opened.hosted[0]!.runtime);
    const { partitions } = opened;
    if (o.insecureDevelopmentMode) warnInsecure(runtime, logger);
    // The operator services read through these, never the store; each routes by partition.
    const tasks = new TaskQueries(partitions, responseTypes(runtime));
    const schedules = new ScheduleQueries(partitions);
    const actors = new ActorQueries(runtime.specs, (stateType, actorId) => partitions.forActor(stateType, actorId).store);
    const admin = new AdminQueries(
      runtime.specs,
      opened.hosted.map((h) => h.store),
      partitions.count === 1 ? undefined : (destination, i) => partitionDirs(destination, partitions.count)[opened.hosted[i]!.partition]!,
      node ? (destination) => node.copyLayout(destination) : undefined,
    );
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
        registerTaskRoutes(router, runtime, tasks, node?.peerLists);
        registerScheduleRoutes(router, runtime, schedules, node?.peerLists);
        registerActorsServiceRoutes(router, runtime, actors, admin, node?.peerLists);
        registerAdminRoutes(router, runtime, admin, node?.peerLists);
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
    const readiness = () => this.#notReadyReason(drain);
    let served = withFastWatch(runtime, maxBytes, handler, drain);
    // Unary actor calls skip connect's per-request machinery: see fast-unary.ts.
    const fastUnary = o.fastUnaryPath === false ? undefined : new FastUnary(runtime, { readMaxBytes: maxBytes, jsonOptions }, drain);
    if (fastUnary) served = fastUnary.handler(served);
    // Calls another node owns go there first (forwarding.ts).
    if (node) served = node.handler(runtime, tasks, opened.hosted.map((h) => h.store), maxBytes, served, twoPhase);
    const inspector = inspectorAccess(o.inspector);
    if (inspector) served = withInspector(inspector, (caller) => runtime.gatekeeper.authorizeAdmin(caller), served);
    served = withHealthEndpoints(readiness, served);
    // HTTP/2 unary calls are taken before node's compatibility layer, unless
    // another node may own them (the handlers above route those first).
    const takeH2Stream = node ? undefined : fastUnary?.takeH2Stream;
    this.#listener = await listen(served, o.host ?? "127.0.0.1", o.port ?? 9991, credentials, duplexPaths, takeH2Stream);
    node?.announce(logger);
    for (const r of this.#runtimes()) await r.start();
    this.#retention = this.#runtimes().map((r) => new RetentionSweeper(r, retention));
    for (const sweeper of this.#retention) sweeper.start();
    this.#recovered = true;
    lifecycle.publish({ event: "started" } satisfies ApplicationEvent);
    return this;
  }

  /**
   * Starts, then serves until SIGINT or SIGTERM; then stops gracefully
   * (see `stop()`). The process ends once stopped: if anything a cut-off
   * call left behind keeps it alive, it exits a second later anyway.
   */
  async run(): Promise<void> {
    const nodes = nodeCount(this.#options.nodes);
    if (nodes > 1 && !nodeIdentity(nodes)) return this.#supervise(nodes);
    await this.start();
    // Tools wait for this line (with the readable default: `cairn: serving on URL` on stdout); a supervisor's worker tells the supervisor instead.
    const logger = this.#logger!;
    if (reportReady(this.#node?.identity.index, this.url)) logger.info(`node ${this.#node?.identity.index}: ready on ${this.url}`);
    else logger.info(`serving on ${this.url}`);
    // Only the first signal drains: a second one ends the process at once.
    const signal = await firstStopSignal();
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
    const hosted = this.#opened?.hosted ?? [];
    await Promise.all([
      ...hosted.map((h) => h.runtime.stop(this.#drainMs)),
      this.#drain?.settled(this.#drainMs),
      ...this.#retention.map((sweeper) => sweeper.stop()),
    ]);
    this.#retention = [];
    // Answers just given still have to go out.
    const graceMs = Math.min(FLUSH_GRACE_MS, Math.max(0, deadline - Date.now()));
    await Promise.all([this.#listener?.close(graceMs), this.#node?.close(graceMs)]);
    this.#node = undefined;
    await Promise.all(hosted.map((h) => h.store.close()));
    this.#listener = undefined;
    this.#opened = undefined;
    this.#runtime = undefined;
    this.#drain = undefined;
    this.#recovered = false;
    lifecycle.publish({ event: "stopped" } satisfies ApplicationEvent);
  }

  /**
   * Opens the partitions; a node first checks its data directory's layout
   * (and on a first start waits for its peers: layout-guard.ts). A refusal
   * closes the peer port it opened.
   */
  async #open(node: NodeServer | undefined, dataDir: string, open: () => Promise<OpenedPartitions>): Promise<OpenedPartitions> {
    if (!node) return open();
    try {
      const dirs = partitionDirs(dataDir, node.placement.partitions);
      await node.prepare(dataDir, (p) => dirs[p]!, this.#logger!);
      return await open();
    } catch (e) {
      await node.close(0);
      this.#node = undefined;
      throw e;
    }
  }

  /** `run()` with several nodes on this machine: supervisor.ts. */
  async #supervise(nodes: number): Promise<void> {
    const logger = (this.#logger ??= this.#options.logger ?? defaultLogger());
    await supervise({ nodes, logger, drainMs: drainTimeoutMs(this.#options.drainTimeout) });
    setTimeout(() => process.exit(process.exitCode ?? 0), EXIT_GRACE_MS).unref();
  }

  /** What /readyz reports: undefined when ready. */
  #notReadyReason(drain: Drain): string | undefined {
    if (drain.draining) return "draining: the server is stopping";
    if (!this.#recovered) return "starting: recovery is not done";
    const health = this.storeHealth;
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
