import { create, type DescMethod, type Message } from "@bufbuild/protobuf";
import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import { invalidArgument } from "../api/errors.js";
import type { Runtime } from "../runtime/runtime.js";
import type { MethodSpec, StateSpec } from "../api/spec.js";
import { decodeActorIdHeader } from "../api/actor-id-header.js";
import { externalCallerOf } from "./bearer-token.js";
import { toWireError } from "../api/wire-error.js";
import { ACTOR_ID_HEADER, IDEMPOTENCY_KEY_HEADER, SPAWN_HEADER, TASK_ID_HEADER } from "../api/headers.js";

type UnaryImpl = (request: Message, context: HandlerContext) => Promise<Message>;

/** Serves every `<State>Methods` service of the runtime under its proto name. */
export function registerActorRoutes(router: ConnectRouter, runtime: Runtime): void {
  for (const spec of runtime.specs) {
    for (const method of Object.values(spec.methods)) {
      const impl: UnaryImpl = (request, context) => serve(runtime, spec, method, request, context);
      router.rpc(method.desc as DescMethod & { methodKind: "unary" }, impl as never);
    }
  }
}

async function serve(
  runtime: Runtime,
  spec: StateSpec,
  method: MethodSpec,
  request: Message,
  context: HandlerContext,
): Promise<Message> {
  const key = context.requestHeader.get(IDEMPOTENCY_KEY_HEADER);
  try {
    const call = {
      spec,
      method,
      actorId: decodeActorIdHeader(context.requestHeader.get(ACTOR_ID_HEADER) ?? ""),
      request,
      idempotencyKey: key || undefined,
      signal: context.signal,
    };
    const caller = externalCallerOf(context.requestHeader);
    const spawn = context.requestHeader.get(SPAWN_HEADER);
    if (spawn === null) return await runtime.execute(call, caller);
    // Started as a task, under the id the client chose (or one of ours).
    const runAt = spawn === "now" ? undefined : Number(spawn);
    if (runAt !== undefined && !Number.isFinite(runAt)) throw invalidArgument(`${SPAWN_HEADER} must be "now" or epoch ms`);
    const taskId = await runtime.spawn(call, runAt, context.requestHeader.get(TASK_ID_HEADER) ?? undefined, caller);
    context.responseHeader.set(TASK_ID_HEADER, taskId);
    return create(method.desc.output);
  } catch (e) {
    throw toWireError(e, method);
  }
}
