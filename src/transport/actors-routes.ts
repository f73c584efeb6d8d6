import { fromBinary, toJsonString } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { Actors } from "../../generated/cairn/v1/actors_pb.js";
import { validateActorId } from "../api/actor-id.js";
import { notFound } from "../api/errors.js";
import type { Runtime } from "../runtime/runtime.js";
import { externalCallerOf } from "./bearer-token.js";

/** Serves `cairn.v1.Actors`: operators read any actor's durable state. */
export function registerActorsServiceRoutes(router: ConnectRouter, runtime: Runtime): void {
  router.service(Actors, {
    async get(req, context) {
      // It bypasses the servicers' authorizers: operators only.
      await runtime.authorizeAdmin(externalCallerOf(context.requestHeader));
      const spec = runtime.specs.find((s) => s.typeName === req.stateType);
      if (!spec) throw notFound(`this application serves no ${JSON.stringify(req.stateType)}`);
      validateActorId(req.actorId);
      const stored = runtime.store.getState(spec.typeName, req.actorId);
      if (!stored) throw notFound(`${spec.typeName} ${JSON.stringify(req.actorId)} does not exist`);
      const state = fromBinary(spec.state, stored.bytes);
      return {
        stateJson: toJsonString(spec.state, state, { alwaysEmitImplicit: true, useProtoFieldName: true }),
        version: BigInt(stored.version),
      };
    },
  });
}
