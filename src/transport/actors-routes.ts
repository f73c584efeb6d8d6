import type { ConnectRouter } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { Actors, ListActorsResponseSchema } from "../../generated/cairn/v1/actors_pb.js";
import type { StateSpec } from "../api/spec.js";
import type { ActorQueries } from "../runtime/actor-queries.js";
import type { AdminQueries } from "../runtime/admin-queries.js";
import type { Runtime } from "../runtime/runtime.js";
import { validateActorId } from "../api/actor-id.js";
import { notFound } from "../api/errors.js";
import { externalCallerOf } from "./bearer-token.js";
import { stateJson } from "./state-json.js";
import { watchActor } from "./actor-watch.js";
import { fileDescriptorSet } from "./descriptor-set.js";
import { PeerLists } from "./peer-lists.js";

/** The most actor ids one List page carries. */
export const MAX_ACTOR_PAGE = 1000;
const DEFAULT_ACTOR_PAGE = 100;

/**
 * Serves `cairn.v1.Actors`: operators list state types and actors, read and
 * watch any actor's durable state, and delete actors. With several nodes,
 * `peers` adds the other nodes' ids to a list (calls by actor id reach the
 * actor's node: forwarding.ts).
 */
export function registerActorsServiceRoutes(router: ConnectRouter, runtime: Runtime, actors: ActorQueries, admin: AdminQueries, peers?: PeerLists): void {
  // Everything here bypasses the servicers' authorizers: operators only.
  const operator = (requestHeader: Headers) => runtime.gatekeeper.authorizeAdmin(externalCallerOf(requestHeader));
  const specOf = (stateType: string): StateSpec => {
    const spec = runtime.specs.find((s) => s.typeName === stateType);
    if (!spec) throw notFound(`this application serves no ${JSON.stringify(stateType)}`);
    return spec;
  };
  // The served types never change while the app runs, and encoding their descriptors takes tens of ms: once.
  let descriptors: Uint8Array | undefined;
  router.service(Actors, {
    async types(_req, context) {
      await operator(context.requestHeader);
      descriptors ??= fileDescriptorSet(runtime.specs.flatMap((s) => [s.state.file, ...Object.values(s.methods).map((m) => m.desc.parent.file)]));
      return {
        stateTypes: runtime.specs.map((spec) => ({
          typeName: spec.typeName,
          methods: Object.values(spec.methods).map((m) => ({
            name: m.name,
            rpcName: m.desc.name,
            kind: m.kind,
            constructor: m.isConstructor,
            requestType: m.desc.input.typeName,
            responseType: m.desc.output.typeName,
          })),
        })),
        fileDescriptorSet: descriptors,
      };
    },
    async list(req, context) {
      await operator(context.requestHeader);
      const limit = Math.min(req.limit || DEFAULT_ACTOR_PAGE, MAX_ACTOR_PAGE);
      const filter = { prefix: req.idPrefix, contains: req.idContains };
      const page = admin.actorIds(req.stateType, filter, req.pageToken || undefined, limit);
      const local = create(ListActorsResponseSchema, { actorIds: [...page.items], nextPageToken: page.next });
      // With several nodes, the other nodes' ids too (each pages after the same token).
      return !peers || PeerLists.fromPeer(context.requestHeader) ? local : peers.actorIds(req, context.requestHeader, local, limit);
    },
    async get(req, context) {
      await operator(context.requestHeader);
      const { spec, state, version } = actors.get(req.stateType, req.actorId);
      return { stateJson: stateJson(spec, state), version: BigInt(version) };
    },
    async *watch(req, context) {
      await operator(context.requestHeader);
      const spec = specOf(req.stateType);
      validateActorId(req.actorId);
      yield* watchActor(runtime, actors, spec, req.actorId, context.signal);
    },
    async delete(req, context) {
      await operator(context.requestHeader);
      const { spec } = actors.get(req.stateType, req.actorId);
      const deleted = await runtime.deleteActor(spec, req.actorId);
      return { cancelledTaskIds: deleted.cancelled.map((t) => t.taskId), deletedScheduleIds: [...deleted.deletedSchedules] };
    },
  });
}
