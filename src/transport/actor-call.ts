import { create, type Message } from "@bufbuild/protobuf";
import { invalidArgument } from "../api/errors.js";
import type { Runtime } from "../runtime/runtime.js";
import type { Call, Caller } from "../runtime/call.js";
import type { MethodSpec, StateSpec } from "../api/spec.js";
import { decodeActorIdHeader } from "../api/actor-id-header.js";
import { externalCallerOf } from "./bearer-token.js";
import { ACTOR_ID_HEADER, IDEMPOTENCY_KEY_HEADER, SPAWN_HEADER, TASK_ID_HEADER } from "../api/headers.js";
import type { RequestHeaders } from "./request-headers.js";

/** What an actor method call answers: the response, and the task id of a spawn. */
export interface ActorCallAnswer {
  readonly response: Message;
  readonly taskId?: string;
}

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
  const key = headers.get(IDEMPOTENCY_KEY_HEADER);
  const call: Call = {
    spec,
    method,
    actorId: decodeActorIdHeader(headers.get(ACTOR_ID_HEADER) ?? ""),
    request,
    idempotencyKey: key || undefined,
    signal,
  };
  return { call, caller: externalCallerOf(headers) };
}

/** Runs one actor method request: at once, or (with the spawn header) as a task. Throws what the runtime throws. */
export async function runActorCall(
  runtime: Runtime,
  spec: StateSpec,
  method: MethodSpec,
  request: Message,
  headers: RequestHeaders,
  signal: AbortSignal | undefined,
): Promise<ActorCallAnswer> {
  const { call, caller } = actorCallOf(spec, method, request, headers, signal);
  const spawn = headers.get(SPAWN_HEADER);
  if (spawn === null) return { response: await runtime.execute(call, caller) };
  // Started as a task, under the id the client chose (or one of ours).
  const runAt = spawn === "now" ? undefined : Number(spawn);
  if (runAt !== undefined && !Number.isFinite(runAt)) throw invalidArgument(`${SPAWN_HEADER} must be "now" or epoch ms`);
  const taskId = await runtime.spawn(call, runAt, headers.get(TASK_ID_HEADER) ?? undefined, caller);
  return { response: create(method.desc.output), taskId };
}
