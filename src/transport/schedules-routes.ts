import { create } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { ScheduleInfoSchema, Schedules, type ScheduleInfo } from "../../generated/cairn/v1/schedules_pb.js";
import type { Runtime } from "../runtime/runtime.js";
import type { ScheduleQueries, ScheduleRecord } from "../runtime/tasks/schedule-queries.js";
import { externalCallerOf } from "./bearer-token.js";
import { PeerLists } from "./peer-lists.js";

/** A stored schedule as `cairn.v1.Schedules` shows it. */
export function toScheduleInfo(s: ScheduleRecord): ScheduleInfo {
  return create(ScheduleInfoSchema, {
    scheduleId: s.scheduleId,
    stateType: s.stateType,
    actorId: s.actorId,
    method: s.method,
    cron: s.cron,
    timezone: s.timezone,
    nextRunAtMs: BigInt(s.nextRunAt),
    lastTaskId: s.lastTaskId ?? "",
    skipped: s.skipped,
    createdAtMs: BigInt(s.createdAt),
  });
}

/** Serves `cairn.v1.Schedules`: list and delete cron schedules, for operators only; with several nodes, `peers` lists theirs too. */
export function registerScheduleRoutes(router: ConnectRouter, runtime: Runtime, schedules: ScheduleQueries, peers?: PeerLists): void {
  const operator = async (requestHeader: Headers) => {
    await runtime.gatekeeper.authorizeAdmin(externalCallerOf(requestHeader));
  };
  router.service(Schedules, {
    list: async (req, context) => {
      await operator(context.requestHeader);
      const after = req.pageToken === "" ? undefined : req.pageToken;
      const local = schedules.list({ stateType: req.stateType, actorId: req.actorId, limit: req.limit, after }).map(toScheduleInfo);
      const found = !peers || PeerLists.fromPeer(context.requestHeader) ? local : await peers.schedules(req, context.requestHeader, local);
      const full = req.limit > 0 && found.length === req.limit;
      return { schedules: found, nextPageToken: full ? found.at(-1)!.scheduleId : "" };
    },
    delete: async (req, context) => {
      await operator(context.requestHeader);
      await schedules.delete(req.scheduleId);
      return {};
    },
  });
}
