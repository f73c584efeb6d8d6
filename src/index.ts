// The public face of Cairn: everything a user or generated code imports.
export { Application, type ApplicationOptions } from "./runtime/application.js";
export { ExternalContext, type ExternalContextOptions, type TransportKind } from "./runtime/external-context.js";
export type {
  Context,
  ActorContext,
  ReaderContext,
  WriterContext,
  TransactionContext,
  WorkflowContext,
} from "./runtime/context.js";
export { Ref } from "./runtime/ref.js";
export { Servicer, type ServicerClass } from "./runtime/servicer.js";
export { defineState, type StateSpec, type MethodSpec, type MethodKind, type AbortedClass } from "./runtime/spec.js";
export { Aborted } from "./runtime/errors.js";
export { ACTOR_ID_HEADER, IDEMPOTENCY_KEY_HEADER } from "./transport/headers.js";
export { Code, ConnectError } from "@connectrpc/connect";
