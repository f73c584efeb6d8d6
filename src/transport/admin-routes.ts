import type { ConnectRouter } from "@connectrpc/connect";
import { Admin } from "../../generated/cairn/v1/admin_pb.js";
import type { AdminQueries } from "../runtime/admin-queries.js";
import type { Runtime } from "../runtime/runtime.js";
import { externalCallerOf } from "./bearer-token.js";
import { PeerLists } from "./peer-lists.js";
import { stateJson } from "./state-json.js";

/** Actors read per page of an export: a short read each, and a bound on what one call holds. */
const EXPORT_PAGE = 256;

/**
 * Serves `cairn.v1.Admin`: backups and exports of the whole data directory,
 * for operators. With several nodes, `peers` makes both cover the cluster:
 * every node copies its own partitions to the destination on its machine,
 * and an export streams each node's actors after this node's.
 */
export function registerAdminRoutes(router: ConnectRouter, runtime: Runtime, admin: AdminQueries, peers?: PeerLists): void {
  router.service(Admin, {
    async backup(req, context) {
      await runtime.gatekeeper.authorizeAdmin(externalCallerOf(context.requestHeader));
      const { path, bytes } = await admin.backup(req.destination, req.compact);
      if (!peers || PeerLists.fromPeer(context.requestHeader)) return { path, bytes: BigInt(bytes) };
      // After this node's copy, so a refusal (a destination not empty) comes before any peer wrote.
      return { path: req.destination, bytes: BigInt(bytes) + (await peers.backups(req, context.requestHeader)) };
    },

    async *export(req, context) {
      await runtime.gatekeeper.authorizeAdmin(externalCallerOf(context.requestHeader));
      const fanOut = peers !== undefined && !PeerLists.fromPeer(context.requestHeader);
      for (const spec of admin.specsFor(req.stateType)) {
        // Each message is written (and its flow control waited for) before the next page is read.
        for (let after: string | undefined, full = true; full && !context.signal.aborted; ) {
          const page = admin.statePage(spec, after, EXPORT_PAGE);
          for (const { actorId, state, version } of page) {
            yield { stateType: spec.typeName, actorId, stateJson: stateJson(spec, state), version: BigInt(version) };
          }
          full = page.length === EXPORT_PAGE;
          after = page.at(-1)?.actorId;
        }
        if (fanOut) yield* peers.exports(spec.typeName, context.requestHeader, context.signal);
      }
    },
  });
}
