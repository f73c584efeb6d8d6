// The status codes are gRPC's, as connect names them; no wire error is built here.
import { Code } from "@connectrpc/connect";
import type { Message } from "@bufbuild/protobuf";

/**
 * A declared error: thrown by a handler to abort with one of the messages
 * listed in its method's `errors`, and thrown at the caller as the method's
 * generated subclass (e.g. `WithdrawAborted`). Nothing the handler did is
 * persisted.
 */
export class Aborted<E extends Message = Message> extends Error {
  override readonly name: string = "Aborted";
  constructor(
    readonly error: E,
    message?: string,
  ) {
    super(message ?? `aborted with ${error.$typeName}`);
  }
}

/**
 * A call failed for a reason its caller can act on. `code` is the status it
 * travels as (gRPC's codes; src/transport/wire-error.ts is the one place
 * that turns it into a wire error). Over the network a caller sees a
 * ConnectError with that code; in process (a handler calling another
 * actor), this class or one of its subclasses below.
 */
export class CallError extends Error {
  override readonly name: string = "CallError";
  constructor(
    readonly code: Code,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The actor, task, schedule or state type does not exist (NOT_FOUND). */
export class NotFound extends CallError {
  override readonly name: string = "NotFound";
  constructor(message: string) {
    super(Code.NotFound, message);
  }
}

/** The request is malformed or breaks a documented limit (INVALID_ARGUMENT). */
export class InvalidArgument extends CallError {
  override readonly name: string = "InvalidArgument";
  constructor(message: string) {
    super(Code.InvalidArgument, message);
  }
}

/** A constructor ran on an actor that exists (ALREADY_EXISTS). */
export class AlreadyExists extends CallError {
  override readonly name: string = "AlreadyExists";
  constructor(message: string) {
    super(Code.AlreadyExists, message);
  }
}

/** The call conflicts with what is stored, e.g. an idempotency key reused for another call (FAILED_PRECONDITION). */
export class FailedPrecondition extends CallError {
  override readonly name: string = "FailedPrecondition";
  constructor(message: string) {
    super(Code.FailedPrecondition, message);
  }
}

/** No servicer serves the state type (UNIMPLEMENTED). */
export class Unimplemented extends CallError {
  override readonly name: string = "Unimplemented";
  constructor(message: string) {
    super(Code.Unimplemented, message);
  }
}

/** The caller has no valid bearer token where one is needed (UNAUTHENTICATED). */
export class Unauthenticated extends CallError {
  override readonly name: string = "Unauthenticated";
  constructor(message: string) {
    super(Code.Unauthenticated, message);
  }
}

/** The authorizer refused this caller (PERMISSION_DENIED). */
export class PermissionDenied extends CallError {
  override readonly name: string = "PermissionDenied";
  constructor(message: string) {
    super(Code.PermissionDenied, message);
  }
}

/** The awaited task was cancelled, or the caller stopped waiting (CANCELED). */
export class CallCancelled extends CallError {
  override readonly name: string = "CallCancelled";
  constructor(message: string) {
    super(Code.Canceled, message);
  }
}

/** A handler threw something undeclared, or a bug (INTERNAL); `cause` is what was thrown. */
export class InternalError extends CallError {
  override readonly name: string = "InternalError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(Code.Internal, message, options);
  }
}

/** The server cannot take the call now; retrying later is safe (UNAVAILABLE). */
export class Unavailable extends CallError {
  override readonly name: string = "Unavailable";
  constructor(message: string, options?: { cause?: unknown }) {
    super(Code.Unavailable, message, options);
  }
}

// Short builders for the common refusals.
export const notFound = (what: string) => new NotFound(what);
export const invalidArgument = (what: string) => new InvalidArgument(what);
export const alreadyExists = (what: string) => new AlreadyExists(what);
export const failedPrecondition = (what: string) => new FailedPrecondition(what);
export const unimplemented = (what: string) => new Unimplemented(what);
export const internal = (what: string, cause?: unknown) => new InternalError(what, { cause });
export const permissionDenied = (what: string) => new PermissionDenied(what);
export const unauthenticated = (what: string) => new Unauthenticated(what);
/** What calls, streams and waits still open hear while the application stops (retryable). */
export const serverStopping = () => new Unavailable("server stopping");

/**
 * The store refused a write (the disk is full, an I/O error, the map cannot
 * grow): nothing of the call was written. Callers see UNAVAILABLE with the
 * reason; retrying later is safe. Reads keep answering meanwhile, and
 * writes resume by themselves once the store takes them again.
 */
export class StoreUnavailable extends Unavailable {
  override readonly name: string = "StoreUnavailable";
  constructor(
    /** Why, as the store said it: "disk full (…)", "I/O error (…)", "map full (…)". */
    readonly reason: string,
    cause?: unknown,
  ) {
    super(`the store refused the write: ${reason}; nothing was written, retry later`, { cause });
  }
}

/**
 * Thrown by `atMostOnce` when an earlier run started the step and never
 * recorded its end (the process died mid-step): it may or may not have
 * happened, and it will not be tried again.
 */
export class AtMostOnceFailedBeforeCompleting extends Error {
  override readonly name = "AtMostOnceFailedBeforeCompleting";
  constructor(readonly alias: string) {
    super(`step ${JSON.stringify(alias)} started in an earlier run and never completed; it is not retried`);
  }
}

/** An error `atMostOnce` stored on an earlier run, thrown again. */
export class AtMostOnceFailed extends Error {
  constructor(
    readonly alias: string,
    name: string,
    message: string,
  ) {
    super(message);
    this.name = name;
  }
}

/**
 * Ends a workflow as FAILED instead of retrying it: for errors a retry
 * cannot fix (a bug in the workflow, a corrupt memo, a permanent refusal).
 */
export class FatalError extends Error {
  override readonly name: string = "FatalError";
}

/**
 * A call its context may not make (DESIGN.md §2, "which context may call
 * what"), or a step helper used outside a workflow: a bug in the calling
 * code, so a task that makes it ends FAILED at once, like FatalError,
 * instead of being retried. The message names the rule.
 */
export class ContextMisuse extends FatalError {
  override readonly name: string = "ContextMisuse";
}

/**
 * The ContextMisuse `e` is or carries as its cause: a misuse inside a
 * handler reaches the handler's caller as INTERNAL, caused by it.
 */
export function misuseIn(e: unknown): ContextMisuse | undefined {
  let c: unknown = e;
  for (let depth = 0; c instanceof Error && depth < 10; depth++, c = c.cause) {
    if (c instanceof ContextMisuse) return c;
  }
  return undefined;
}

/**
 * Thrown inside a workflow whose task an operator cancelled (Tasks.Cancel):
 * by `await ctx.checkpoint()` and at the next durable step. Let it
 * propagate (`finally` blocks run); the task ends as CANCELLED either way.
 */
export class Cancelled extends Error {
  override readonly name: string = "Cancelled";
  constructor(readonly taskId: string) {
    super(`task ${taskId} was cancelled`);
  }
}

/**
 * Thrown from inside a step (`atLeastOnce` with a `retry` policy) to retry
 * it after `retryAfterMs` instead of the policy's backoff: for a remote
 * that said when to come back (an HTTP 429 with Retry-After).
 */
export class RetryableError extends Error {
  override readonly name: string = "RetryableError";
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options: { retryAfterMs?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** A step with a `retry` policy failed on every allowed attempt: the task ends FAILED. */
export class StepRetriesExhausted extends FatalError {
  override readonly name: string = "StepRetriesExhausted";
  constructor(
    readonly alias: string,
    readonly attempts: number,
    cause: unknown,
  ) {
    const why = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(`step ${JSON.stringify(alias)} failed after ${attempts} attempt${attempts === 1 ? "" : "s"}: ${why}`, { cause });
  }
}

/** One attempt of a step ran past its `timeoutMs`: it counts as failed. */
export class StepTimedOut extends Error {
  override readonly name: string = "StepTimedOut";
  constructor(
    readonly alias: string,
    readonly timeoutMs: number,
  ) {
    super(`step ${JSON.stringify(alias)} did not finish within ${timeoutMs} ms`);
  }
}
