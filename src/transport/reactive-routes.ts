import { create, fromBinary } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { Reactive, WatchResponseSchema, type WatchRequest } from "../../generated/cairn/v1/reactive_pb.js";
import { invalidArgument, notFound } from "../api/errors.js";
import { watchReaderBytes } from "../runtime/reactive.js";
import type { Call, Runtime } from "../runtime/runtime.js";
import type { Caller } from "../runtime/context-impl.js";
import type { RequestHeaders } from "./request-headers.js";
import { externalCallerOf } from "./bearer-token.js";

/** Serves `cairn.v1.Reactive/Watch` for every reader of the runtime. */
export function registerReactiveRoutes(router: ConnectRouter, runtime: Runtime): void {
  router.service(Reactive, {
    async *watch(req, context) {
      const { call, caller } = watchCall(runtime, req, context.requestHeader);
      for await (const response of watchReaderBytes(runtime, call, caller, context.signal)) {
        yield create(WatchResponseSchema, { response });
      }
    },
  });
}

/**
 * A Watch request checked: the reader call it names and who asks. Shared by
 * the connect route and the Connect fast path (fast-watch.ts), so both
 * answer a request alike.
 */
export function watchCall(runtime: Runtime, req: WatchRequest, requestHeader: RequestHeaders): { call: Call; caller: Caller } {
  const spec = runtime.specs.find((s) => s.typeName === req.stateType);
  if (!spec) throw notFound(`this application serves no ${req.stateType}`);
  const method = Object.values(spec.methods).find((m) => m.name === req.method || m.desc.name === req.method);
  if (!method) throw notFound(`${req.stateType} has no method ${req.method}`);
  let request;
  try {
    request = fromBinary(method.desc.input, req.request);
  } catch (e) {
    throw invalidArgument(`request is not a valid ${method.desc.input.typeName}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return { call: { spec, method, actorId: req.actorId, request }, caller: externalCallerOf(requestHeader) };
}
