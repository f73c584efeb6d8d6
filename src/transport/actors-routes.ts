import type { ConnectRouter } from "@connectrpc/connect";
import { Actors } from "../../generated/cairn/v1/actors_pb.js";
import type { ActorQueries } from "../runtime/actor-queries.js";
import type { Runtime } from "../runtime/runtime.js";
import { externalCallerOf } from "./bearer-token.js";
import { stateJson } from "./state-json.js";

/** Serves `cairn.v1.Actors`: operators read any actor's durable state, and delete actors. */
export function registerActorsServiceRoutes(router: ConnectRouter, runtime: Runtime, actors: ActorQueries): void {
  router.service(Actors, {
    async get(req, context) {
      // It bypasses the servicers' authorizers: operators only.
      await runtime.authorizeAdmin(externalCallerOf(context.requestHeader));
      const { spec, state, version } = actors.get(req.stateType, req.actorId);
      return { stateJson: stateJson(spec, state), version: BigInt(version) };
    },
    async delete(req, context) {
      await runtime.authorizeAdmin(externalCallerOf(context.requestHeader));
      const { spec } = actors.get(req.stateType, req.actorId);
      const deleted = await runtime.deleteActor(spec, req.actorId);
      return { cancelledTaskIds: deleted.cancelled.map((t) => t.taskId), deletedScheduleIds: [...deleted.deletedSchedules] };
    },
  });
}
