import type { DescMethod, Message } from "@bufbuild/protobuf";
import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import type { Runtime } from "../runtime/runtime.js";
import type { MethodSpec, StateSpec } from "../api/spec.js";
import { toWireError } from "../api/wire-error.js";
import { TASK_ID_HEADER } from "../api/headers.js";
import { runActorCall, Spawned } from "./actor-call.js";

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
  try {
    const answer = await runActorCall(runtime, spec, method, request, context.requestHeader, context.signal);
    if (!(answer instanceof Spawned)) return answer;
    context.responseHeader.set(TASK_ID_HEADER, answer.taskId);
    return answer.response;
  } catch (e) {
    throw toWireError(e, method);
  }
}
