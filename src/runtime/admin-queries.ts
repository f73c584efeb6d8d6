import { fromBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { CallError, notFound } from "../api/errors.js";
import type { StateSpec } from "../api/spec.js";
import { BackupRefused, type BackupRefusal, type BackupResult } from "../store/backup.js";
import type { LmdbStore } from "../store/lmdb-store.js";
import type { ActorIdFilter } from "../store/range-scans.js";
import type { ActorView } from "./actor-queries.js";
import { mergeSortedPages, type SourcePage } from "./tasks/id-order.js";

export type { BackupResult };

/** What operator calls need of the store beyond the `Store` interface: LMDB's live copy, and actors a page at a time. */
export type AdminStore = Pick<LmdbStore, "backup" | "statePage" | "actorIds">;

/**
 * Actor ids one Actors.List call looks at at most (a substring search walks
 * ids it does not return): the call never scans a whole type.
 */
export const ACTOR_SCAN_LIMIT = 20_000;

/** Plain string order: actor ids' order in the store. */
export const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** One actor of an export page, decoded. */
export interface ActorEntry extends ActorView {
  readonly actorId: string;
}

const REFUSAL_CODES: Record<BackupRefusal, Code> = {
  "relative destination": Code.InvalidArgument,
  "inside the data directory": Code.InvalidArgument,
  "not empty": Code.AlreadyExists,
  busy: Code.Aborted,
  "no data": Code.NotFound,
};

/** The operators' whole-store side (`cairn.v1.Admin`: backup, export), for the wire face. */
export class AdminQueries {
  constructor(
    private readonly specs: readonly StateSpec[],
    /** Each partition's store, in partition order (one: the data directory is the environment). */
    private readonly stores: readonly AdminStore[],
    /** Where partition `index`'s copy goes in a backup to `destination` (laid out as a data directory). */
    private readonly backupPath: (destination: string, index: number) => string = (d) => d,
    /** A node's: writes its layout record into the backup, after its partitions (node-layout.ts). */
    private readonly copyLayout?: (destination: string) => Promise<void>,
  ) {}

  /**
   * A consistent copy of the data directory, one partition after another
   * (each consistent on its own); a refusal is a CallError with its status.
   */
  async backup(destination: string, compact: boolean): Promise<BackupResult> {
    try {
      let bytes = 0;
      let path = destination;
      for (const [i, store] of this.stores.entries()) {
        const copy = await store.backup(this.backupPath(destination, i), compact);
        bytes += copy.bytes;
        if (this.stores.length === 1) path = copy.path;
      }
      await this.copyLayout?.(destination);
      return { path, bytes };
    } catch (e) {
      if (e instanceof BackupRefused) throw new CallError(REFUSAL_CODES[e.reason], e.message);
      throw e;
    }
  }

  /** The state types an export covers: all ("" ), or the one named (NOT_FOUND if not served). */
  specsFor(stateType: string): readonly StateSpec[] {
    const specs = stateType === "" ? this.specs : this.specs.filter((s) => s.typeName === stateType);
    if (specs.length === 0) throw notFound(`this application serves no ${JSON.stringify(stateType)}`);
    return specs;
  }

  /**
   * Up to `limit` ids of `stateType`'s actors matching `filter`, after
   * `after`, in id order; NOT_FOUND for a type not served. At most
   * ACTOR_SCAN_LIMIT ids are looked at, shared among the partitions: a
   * substring that few ids contain answers a short page and a `next`.
   */
  actorIds(stateType: string, filter: ActorIdFilter, after: string | undefined, limit: number): SourcePage<string> {
    if (!this.specs.some((s) => s.typeName === stateType)) throw notFound(`this application serves no ${JSON.stringify(stateType)}`);
    const scanLimit = Math.max(limit, Math.ceil(ACTOR_SCAN_LIMIT / this.stores.length));
    const pages = this.stores.map((store) => store.actorIds(stateType, filter, after, limit, scanLimit));
    return mergeSortedPages(
      pages.map((p) => ({ items: p.ids, next: p.next ?? "" })),
      (id) => id,
      limit,
      compareStrings,
    );
  }

  /** Up to `limit` actors of `spec` after `afterActorId`, in id order, decoded. */
  statePage(spec: StateSpec, afterActorId: string | undefined, limit: number): ActorEntry[] {
    const pages = this.stores.map((store) => store.statePage(spec.typeName, afterActorId, limit));
    return firstOfPages(pages, (a) => a.actorId, limit).map(({ actorId, state }) => ({
      spec,
      actorId,
      state: fromBinary(spec.state, state.bytes),
      version: state.version,
    }));
  }
}

/**
 * The first `limit` in actor id order of the partitions' (or nodes') pages,
 * each the first `limit` of its own: so the first `limit` of all of them.
 */
export function firstOfPages<T>(pages: readonly T[][], idOf: (item: T) => string, limit: number): T[] {
  if (pages.length === 1) return pages[0]!;
  return pages
    .flat()
    .sort((a, b) => (idOf(a) < idOf(b) ? -1 : 1))
    .slice(0, limit);
}
