import { create, type Message } from "@bufbuild/protobuf";
import { invalidArgument } from "../api/errors.js";
import type { Runtime } from "../runtime/runtime.js";
import type { Call, Caller } from "../runtime/call.js";
import type { MethodSpec, StateSpec } from "../api/spec.js";
import { decodeActorIdHeader } from "../api/actor-id-header.js";
import { externalCallerOf } from "./bearer-token.js";
import { ACTOR_ID_HEADER, IDEMPOTENCY_KEY_HEADER, SPAWN_HEADER, TASK_ID_HEADER } from "../api/headers.js";
import type { RequestHeaders } from "./request-headers.js";

/** A spawn's answer: the method's empty response, and the task's id (its response header). */
export class Spawned {
  constructor(
    readonly response: Message,
    readonly taskId: string,
  ) {}
}

/** What an actor method call answers: its response, or a `Spawned` for a spawn. */
export type ActorCallAnswer = Message | Spawned;

/**
 * The runtime's call and caller for one actor method request: the one
 * place a request's headers become them, for connect's route and the fast
 * path alike (whatever else the runtime reads from a request goes here).
 */
export function actorCallOf(
  spec: StateSpec,
  method: MethodSpec,
  request: Message,
  headers: RequestHeaders,
  signal: AbortSignal | undefined,
): { call: Call; caller: Caller } {
  return { call: callOf(spec, method, request, headers, signal), caller: externalCallerOf(headers) };
}

function callOf(spec: StateSpec, method: MethodSpec, request: Message, headers: RequestHeaders, signal: AbortSignal | undefined): Call {
  const key = headers.get(IDEMPOTENCY_KEY_HEADER);
  return {
    spec,
    method,
    actorId: decodeActorIdHeader(headers.get(ACTOR_ID_HEADER) ?? ""),
    request,
    idempotencyKey: key || undefined,
    signal,
  };
}

/**
 * Runs one actor method request: at once, or (with the spawn header) as a
 * task. Rejects with what the runtime throws. Not async: a plain call's
 * promise is the runtime's own (no wrapping promise and tick per call).
 */
export function runActorCall(
  runtime: Runtime,
  spec: StateSpec,
  method: MethodSpec,
  request: Message,
  headers: RequestHeaders,
  signal: AbortSignal | undefined,
): Promise<ActorCallAnswer> {
  try {
    const call = callOf(spec, method, request, headers, signal);
    const caller = externalCallerOf(headers);
    const spawn = headers.get(SPAWN_HEADER);
    if (spawn === null) return runtime.execute(call, caller);
    return spawnCall(runtime, call, caller, spawn, headers);
  } catch (e) {
    return Promise.reject(e);
  }
}

/** Started as a task, under the id the client chose (or one of ours). */
async function spawnCall(runtime: Runtime, call: Call, caller: Caller, spawn: string, headers: RequestHeaders): Promise<Spawned> {
  const runAt = spawn === "now" ? undefined : Number(spawn);
  if (runAt !== undefined && !Number.isFinite(runAt)) throw invalidArgument(`${SPAWN_HEADER} must be "now" or epoch ms`);
  const taskId = await runtime.spawn(call, runAt, headers.get(TASK_ID_HEADER) ?? undefined, caller);
  return new Spawned(create(call.method.desc.output), taskId);
}
