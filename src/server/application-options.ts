// What an Application is made of and how it serves: its one options type.
import type { TlsOptions } from "./tls-credentials.js";
import type { Durability } from "../store/lmdb-store.js";
import type { Logger } from "../api/logger.js";
import type { Store } from "../store/store.js";
import type { RetryPolicy } from "../runtime/tasks/retry-policy.js";
import type { TokenVerifier } from "../runtime/authorization.js";
import type { Clock } from "../runtime/clock.js";
import type { ServicerClass } from "../runtime/servicer.js";
import type { RetentionOptions } from "./retention-options.js";

export interface ApplicationOptions {
  servicers: readonly ServicerClass[];
  /** LMDB environment folder (with several partitions, the folder of theirs). Default "./.cairn". */
  dataDir?: string;
  /**
   * Partitions of the data directory: actors spread over this many LMDB
   * environments by hash of (state type, actor id), each with its own task
   * dispatcher and cache (DESIGN.md §9). Fixed when the directory is
   * created. Default CAIRN_PARTITIONS, else 1 (the directory is one environment).
   */
  partitions?: number;
  /**
   * Internal (for nodes): the partitions this process opens; calls for
   * the others answer UNAVAILABLE. Default all.
   */
  hostedPartitions?: readonly number[];
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
  /**
   * Processes serving the application (README "Running several
   * processes"): with M > 1, `run()` forks M nodes sharing the port and
   * each actor lives on one of them. Default CAIRN_NODES, else 1.
   */
  nodes?: number;
}
