// The public face of Cairn: everything a user or generated code imports.
export { Application, type ApplicationOptions, type ApplicationStats } from "./server/application.js";
export type { RetentionOptions, RetentionPeriod } from "./server/retention-options.js";
export type { TlsOptions } from "./server/tls-credentials.js";
export type { Logger, LogFn } from "./api/logger.js";
export { ExternalContext, type ExternalContextOptions, type TransportKind } from "./client/external-context.js";
export type {
  Context,
  ActorContext,
  ReaderContext,
  WriterContext,
  TransactionContext,
  WorkflowContext,
} from "./runtime/context.js";
export { Ref, Task, Spawner, Scheduler, Reactive } from "./api/ref.js";
export type { ContextKind, ContextOf, MayCall, MaySchedule, MaySpawn, MayWatch } from "./api/capabilities.js";
export type { TaskTiming, OnceTiming, CronTiming } from "./api/invocation.js";
export { systemClock, AdjustableClock, type Clock, type Timer } from "./runtime/clock.js";
export type { TaskProgressReport } from "./runtime/tasks/progress.js";
export { Servicer, type ServicerClass } from "./runtime/servicer.js";
export {
  Authorizer,
  allow,
  deny,
  allowIf,
  isAuthenticated,
  type AuthorizationContext,
  type Claims,
  type Predicate,
  type PredicateInput,
  type Rule,
  type TokenVerifier,
} from "./runtime/authorization.js";
export { signHmacToken, hmacTokenVerifier } from "./runtime/hmac-token.js";
export { jwtVerifier, type JwtVerifierOptions } from "./runtime/jwt-verifier.js";
export { defineState, type StateSpec, type MethodSpec, type MethodKind, type AbortedClass } from "./api/spec.js";
export {
  Aborted,
  AlreadyExists,
  AtMostOnceFailed,
  AtMostOnceFailedBeforeCompleting,
  CallCancelled,
  CallError,
  Cancelled,
  ContextMisuse,
  FailedPrecondition,
  FatalError,
  InternalError,
  InvalidArgument,
  NotFound,
  PermissionDenied,
  RetryableError,
  StepRetriesExhausted,
  StepTimedOut,
  StoreUnavailable,
  Unauthenticated,
  Unavailable,
  Unimplemented,
} from "./api/errors.js";
export type { StoreHealthStatus } from "./runtime/store-health.js";
export { StoreFault, type Store, type StoreFaultReason, type CommitBatch } from "./store/store.js";
export { partitionOf } from "./api/partition.js";
export { Loop } from "./runtime/workflow/loop.js";
export { until, atLeastOnce, atMostOnce, type StepAttempt, type StepOptions, type StepRetry } from "./runtime/workflow/steps.js";
export { sleep } from "./runtime/workflow/sleep.js";
export { patched } from "./runtime/workflow/patched.js";
export {
  awaitRemote,
  done,
  running,
  DEFAULT_REMOTE_BACKOFF,
  type AwaitRemoteOptions,
  type RemoteBackoff,
  type RemoteCheck,
  type RemoteDone,
  type RemoteRunning,
  type RemoteStatus,
} from "./runtime/workflow/await-remote.js";
export { parseDuration, type Duration } from "./runtime/duration.js";
export { Suspended } from "./runtime/workflow/suspended.js";
export { WorkflowState, type StateWriter } from "./runtime/workflow/state-handle.js";
export { MemoValidationError, type MemoOptions, type StandardSchema } from "./runtime/workflow/memo-codec.js";
export type { RetryPolicy } from "./runtime/tasks/retry-policy.js";
export { COMMIT_CHANNEL, type CommitMessage } from "./runtime/commit-channel.js";
export { ACTOR_ID_HEADER, IDEMPOTENCY_KEY_HEADER, SPAWN_HEADER, TASK_ID_HEADER } from "./api/headers.js";
export { decodeActorIdHeader, encodeActorIdHeader } from "./api/actor-id-header.js";
export { Code, ConnectError } from "@connectrpc/connect";
