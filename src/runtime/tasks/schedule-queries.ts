import type { ScheduleRecord, Store } from "../../store/store.js";
import { notFound } from "../../api/errors.js";
import type { CronSchedules } from "./schedules.js";
import { compareIds } from "./id-order.js";

export type { ScheduleRecord };

/** One partition's cron schedules: where they are stored and fired. */
export interface ScheduleHome {
  readonly store: Pick<Store, "schedules" | "getSchedule">;
  readonly schedules: Pick<CronSchedules, "delete">;
}

/** The partitions' schedules: the home an id names (or every one, for an unmarked id), and all of them. */
export interface ScheduleHomes {
  holderOf(scheduleId: string, has: (home: ScheduleHome) => boolean): ScheduleHome | undefined;
  hosted(): ScheduleHome[];
}

export interface ScheduleFilter {
  readonly stateType?: string;
  readonly actorId?: string;
  /** At most this many; 0: all. */
  readonly limit?: number;
  /** Only schedules after this one (the last of the previous page). */
  readonly after?: string;
}

/** The cron schedules for the wire face: listed over every partition, deleted on theirs. */
export class ScheduleQueries {
  constructor(private readonly homes: ScheduleHomes) {}

  /** In listing order (id-order.ts). Schedules are few: each partition's are read and sorted. */
  list(filter: ScheduleFilter): ScheduleRecord[] {
    const found: ScheduleRecord[] = [];
    for (const home of this.homes.hosted()) {
      for (const s of home.store.schedules()) {
        if (filter.stateType && s.stateType !== filter.stateType) continue;
        if (filter.actorId && s.actorId !== filter.actorId) continue;
        if (filter.after !== undefined && compareIds(s.scheduleId, filter.after) <= 0) continue;
        found.push(s);
      }
    }
    found.sort((a, b) => compareIds(a.scheduleId, b.scheduleId));
    return filter.limit ? found.slice(0, filter.limit) : found;
  }

  /** Deletes a schedule on its partition; NOT_FOUND if none holds it. Runs already started go on. */
  delete(scheduleId: string): Promise<void> {
    const home = this.homes.holderOf(scheduleId, (h) => h.store.getSchedule(scheduleId) !== undefined);
    if (!home) return Promise.reject(notFound(`no schedule ${JSON.stringify(scheduleId)}`));
    return home.schedules.delete(scheduleId);
  }
}
