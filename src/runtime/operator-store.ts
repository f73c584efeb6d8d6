import { Code, ConnectError } from "@connectrpc/connect";
import { BackupRefused, type BackupRefusal, type BackupResult } from "../store/backup.js";
import type { LmdbStore } from "../store/lmdb-store.js";
import type { StoredState } from "../store/store.js";

/**
 * What operator calls (cairn.v1.Admin) need of the store beyond the
 * `Store` interface: LMDB's live copy, and actors read a page at a time.
 */
export interface OperatorStore {
  /** Refusals reach the caller as ConnectErrors with their codes. */
  backup(destination: string, compact: boolean): Promise<BackupResult>;
  statePage(stateType: string, afterActorId: string | undefined, limit: number): ReadonlyArray<{ actorId: string; state: StoredState }>;
}

const REFUSAL_CODES: Record<BackupRefusal, Code> = {
  "relative destination": Code.InvalidArgument,
  "inside the data directory": Code.InvalidArgument,
  "not empty": Code.AlreadyExists,
  busy: Code.Aborted,
  "no data": Code.NotFound,
};

export function operatorStoreOf(store: LmdbStore): OperatorStore {
  return {
    async backup(destination, compact) {
      try {
        return await store.backup(destination, compact);
      } catch (e) {
        if (e instanceof BackupRefused) throw new ConnectError(e.message, REFUSAL_CODES[e.reason]);
        throw e;
      }
    },
    statePage: (stateType, after, limit) => store.statePage(stateType, after, limit),
  };
}
