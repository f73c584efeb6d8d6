import type { Database } from "lmdb";
import type { StoredState, TaskRange, TaskRecord } from "./store.js";

/** Actor states are keyed by state type, then actor id. */
export type StateKey = [string, string];

// The LMDB store's ordered walks for listings (exports, Actors.List,
// Tasks.List): each a short read of one range, bounded by its caller.

/** Up to `limit` actors of `stateType` after `afterActorId`, in id order: a page of an export. */
export function statePage(
  states: Database<StoredState, StateKey>,
  stateType: string,
  afterActorId: string | undefined,
  limit: number,
): Array<{ actorId: string; state: StoredState }> {
  const page: Array<{ actorId: string; state: StoredState }> = [];
  for (const { key, value } of states.getRange({ start: [stateType, afterActorId ?? ""] })) {
    if (key[0] !== stateType || page.length === limit) break;
    if (key[1] !== afterActorId) page.push({ actorId: key[1], state: value });
  }
  return page;
}

/** Which actor ids a listing wants: those that start with `prefix` and contain `contains` ("" for either: any). */
export interface ActorIdFilter {
  readonly prefix: string;
  readonly contains: string;
}

/** A page of actor ids and where the walk stopped: `next` is the last id looked at, undefined at the end of the range. */
export interface ActorIdPage {
  readonly ids: string[];
  readonly next?: string;
}

/**
 * Up to `limit` ids of `stateType`'s actors that match `filter`, after
 * `after`, in id order, looking at no more than `scanLimit` ids: a
 * substring matches anywhere, so only the prefix narrows the range read.
 */
export function actorIds(
  states: Database<StoredState, StateKey>,
  stateType: string,
  filter: ActorIdFilter,
  after: string | undefined,
  limit: number,
  scanLimit: number,
): ActorIdPage {
  const { prefix, contains } = filter;
  const ids: string[] = [];
  let looked = 0;
  let last: string | undefined;
  const start = after !== undefined && after > prefix ? after : prefix;
  for (const key of states.getKeys({ start: [stateType, start] })) {
    if (key[0] !== stateType || !key[1].startsWith(prefix)) break;
    if (key[1] === after) continue;
    if (ids.length === limit || looked === scanLimit) return { ids, next: last };
    looked++;
    last = key[1];
    if (key[1].includes(contains)) ids.push(key[1]);
  }
  return { ids };
}

/** The tasks with ids in [range.atLeast, range.below), lowest first, or highest first with `range.reverse`. */
export function* taskRange(taskDb: Database<TaskRecord, string>, range: TaskRange): Iterable<TaskRecord> {
  const { atLeast, below, reverse = false } = range;
  if (atLeast !== undefined && below !== undefined && atLeast >= below) return;
  if (!reverse) {
    for (const { value } of taskDb.getRange({ start: atLeast, end: below })) yield value;
    return;
  }
  // Backwards, `start` is the upper bound and `end` the lower: the bounds trade roles.
  for (const { value } of taskDb.getRange({ start: below, exclusiveStart: true, end: atLeast, inclusiveEnd: true, reverse: true })) yield value;
}
