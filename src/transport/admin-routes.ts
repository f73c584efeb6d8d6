import type { ConnectRouter } from "@connectrpc/connect";
import { Admin } from "../../generated/cairn/v1/admin_pb.js";
import { notFound } from "../runtime/errors.js";
import type { OperatorStore } from "../runtime/operator-store.js";
import type { Runtime } from "../runtime/runtime.js";
import { externalCallerOf } from "./bearer-token.js";
import { stateJson } from "./state-json.js";

/** Actors read per page of an export: a short read each, and a bound on what one call holds. */
const EXPORT_PAGE = 256;

/** Serves `cairn.v1.Admin`: backups and exports of the whole data directory, for operators. */
export function registerAdminRoutes(router: ConnectRouter, runtime: Runtime, store: OperatorStore): void {
  router.service(Admin, {
    async backup(req, context) {
      await runtime.authorizeAdmin(externalCallerOf(context.requestHeader));
      const { path, bytes } = await store.backup(req.destination, req.compact);
      return { path, bytes: BigInt(bytes) };
    },

    async *export(req, context) {
      await runtime.authorizeAdmin(externalCallerOf(context.requestHeader));
      const specs = req.stateType === "" ? runtime.specs : runtime.specs.filter((s) => s.typeName === req.stateType);
      if (specs.length === 0) throw notFound(`this application serves no ${JSON.stringify(req.stateType)}`);
      for (const spec of specs) {
        // Each message is written (and its flow control waited for) before the next page is read.
        for (let after: string | undefined, full = true; full && !context.signal.aborted; ) {
          const page = store.statePage(spec.typeName, after, EXPORT_PAGE);
          for (const { actorId, state } of page) {
            yield { stateType: spec.typeName, actorId, stateJson: stateJson(spec, state.bytes), version: BigInt(state.version) };
          }
          full = page.length === EXPORT_PAGE;
          after = page.at(-1)?.actorId;
        }
      }
    },
  });
}
