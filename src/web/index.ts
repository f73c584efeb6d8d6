// `cairn/web`: what a browser page (and generated `<name>_cairn_web.ts`)
// imports. Nothing here, or in anything it imports, may need Node: the page
// bundles it (test/web.test.ts walks the import graph to check).
export { WebContext, type WebContextOptions, type AfterWriteListener } from "./web-context.js";
export { LiveQuery, type LiveSnapshot, type LiveQueryOptions } from "./live-query.js";
export { LiveStream, type StreamSnapshot, type LiveStreamOptions } from "./live-stream.js";
export { Ref, Task, Spawner, Reactive } from "../api/ref.js";
export type { Context } from "../api/context.js";
export type { ContextKind, ContextOf, MayCall, MaySpawn, MayWatch } from "../api/capabilities.js";
export type { Invocation, TaskTiming } from "../api/invocation.js";
export { defineState, type StateSpec, type MethodSpec, type MethodKind, type AbortedClass } from "../api/spec.js";
export { Aborted } from "../api/errors.js";
export { ACTOR_ID_HEADER, IDEMPOTENCY_KEY_HEADER, SPAWN_HEADER, TASK_ID_HEADER } from "../api/headers.js";
export { decodeActorIdHeader, encodeActorIdHeader } from "../api/actor-id-header.js";
export { Code, ConnectError } from "@connectrpc/connect";
