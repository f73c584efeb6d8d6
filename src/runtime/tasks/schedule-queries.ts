import type { ScheduleRecord, Store } from "../../store/store.js";

export type { ScheduleRecord };

/** The read side of the cron schedules, for the wire face. */
export class ScheduleQueries {
  constructor(private readonly store: Pick<Store, "schedules">) {}

  list(filter: { readonly stateType?: string; readonly actorId?: string }): ScheduleRecord[] {
    const found: ScheduleRecord[] = [];
    for (const s of this.store.schedules()) {
      if (filter.stateType && s.stateType !== filter.stateType) continue;
      if (filter.actorId && s.actorId !== filter.actorId) continue;
      found.push(s);
    }
    return found;
  }
}
