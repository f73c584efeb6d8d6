// The one place a failure becomes a wire error: the runtime throws Cairn's
// own errors (./errors.ts) and never builds a ConnectError. The server's
// routes (src/transport/wire-errors.ts) and the clients, for what they
// refuse before sending, both map through here.
import { Code, ConnectError } from "@connectrpc/connect";
import {
  Aborted,
  AlreadyExists,
  CallCancelled,
  CallError,
  FailedPrecondition,
  InternalError,
  InvalidArgument,
  NotFound,
  PermissionDenied,
  Unauthenticated,
  Unavailable,
  Unimplemented,
} from "./errors.js";
import type { MethodSpec } from "./spec.js";

/**
 * - a declared error (`Aborted`, with the method that declares it) travels
 *   as ABORTED with the error message as a detail; an undeclared one is INTERNAL;
 * - a CallError as its code and message;
 * - a ConnectError a handler threw, as it is;
 * - anything else as connect shows it: INTERNAL, "internal error" (the
 *   message may hold what a client should not see).
 */
export function toWireError(e: unknown, method?: MethodSpec): ConnectError {
  if (e instanceof ConnectError) return e;
  if (e instanceof Aborted && method) {
    const desc = method.errors.find((s) => s.typeName === e.error.$typeName);
    if (!desc) return new ConnectError(e.message, Code.Internal);
    return new ConnectError(e.message, Code.Aborted, undefined, [{ desc, value: e.error }]);
  }
  if (e instanceof CallError) return new ConnectError(e.message, e.code, undefined, undefined, e);
  return new ConnectError("internal error", Code.Internal, undefined, undefined, e);
}

/** The code `toWireError` gives a failure, without building the error: for metrics and spans. */
export function wireCodeOf(e: unknown, method?: MethodSpec): Code {
  if (e instanceof ConnectError || e instanceof CallError) return e.code;
  if (e instanceof Aborted && method) return method.errors.some((s) => s.typeName === e.error.$typeName) ? Code.Aborted : Code.Internal;
  return Code.Internal;
}

/** Cairn's error class for each code a call answers with. */
const CALL_ERRORS: Partial<Record<Code, new (message: string) => CallError>> = {
  [Code.NotFound]: NotFound,
  [Code.InvalidArgument]: InvalidArgument,
  [Code.AlreadyExists]: AlreadyExists,
  [Code.FailedPrecondition]: FailedPrecondition,
  [Code.Unimplemented]: Unimplemented,
  [Code.Unauthenticated]: Unauthenticated,
  [Code.PermissionDenied]: PermissionDenied,
  [Code.Canceled]: CallCancelled,
  [Code.Internal]: InternalError,
  [Code.Unavailable]: Unavailable,
};

/**
 * The inverse of `toWireError`, for a call another node answered: what the
 * caller would have caught had the call run in its own process. A declared
 * error is the method's typed `…Aborted` again; a code, Cairn's class for it.
 */
export function fromWireError(e: ConnectError, method?: MethodSpec): Error {
  if (e.code === Code.Aborted && method) {
    for (const desc of method.errors) {
      const [detail] = e.findDetails(desc);
      if (detail) return new (method.aborted ?? Aborted)(detail as never, e.rawMessage);
    }
  }
  const Class = CALL_ERRORS[e.code];
  return Class ? new Class(e.rawMessage) : new CallError(e.code, e.rawMessage);
}
