import { join } from "node:path";
import { open, type Database, type RootDatabase } from "lmdb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDirs } from "../../test/fixtures/temp-dirs.js";
import type { StoredState } from "./store.js";
import type { StateKey } from "./range-scans.js";
import { storedVersion, versionInPlace } from "./stored-version.js";

const tempDir = tempDirs("cairn-stored-version-spec-");
let root: RootDatabase;
let states: Database<StoredState, StateKey>;

beforeAll(() => {
  // As LmdbStore opens it.
  root = open({ path: join(tempDir(), "data"), maxDbs: 16, compression: false });
  states = root.openDB<StoredState, StateKey>({ name: "state" });
});
afterAll(() => root?.close());

const VERSIONS = [1, 2, 127, 128, 255, 256, 65_535, 65_536, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 3, Number.MAX_SAFE_INTEGER];

describe("the stored version, read in place", () => {
  it("reads every version as the decoded record says, whatever the state's bytes", async () => {
    for (const [i, version] of VERSIONS.entries()) {
      const bytes = new Uint8Array(i * 37).map((_, j) => j * 7);
      await states.put(["T", `a${i}`], { version, bytes });
      const raw = states.getBinary(["T", `a${i}`])!;
      expect(versionInPlace(raw)).toBe(version);
      expect(storedVersion(states, ["T", `a${i}`])).toBe(states.get(["T", `a${i}`])!.version);
    }
  });

  it("answers 0 for an absent actor", () => {
    expect(storedVersion(states, ["T", "nobody"])).toBe(0);
  });

  it("decodes a record laid out otherwise (other key order, other fields, a non-integer)", async () => {
    const odd: Array<[string, unknown]> = [
      ["reordered", { bytes: new Uint8Array([1]), version: 5 }],
      ["extra", { version: 6, bytes: new Uint8Array([1]), more: true }],
      ["fraction", { version: 1.5, bytes: new Uint8Array([1]) }],
    ];
    for (const [id, record] of odd) {
      await states.put(["T", id], record as StoredState);
      expect(storedVersion(states, ["T", id])).toBe((record as StoredState).version);
    }
    expect(versionInPlace(states.getBinary(["T", "reordered"])!)).toBeUndefined();
    expect(versionInPlace(states.getBinary(["T", "fraction"])!)).toBeUndefined();
  });

  it("refuses bytes that are cut short or not a record", () => {
    const raw = states.getBinary(["T", "a5"])!; // version 256: uint16
    for (let cut = 0; cut < raw.length - 3; cut++) {
      const v = versionInPlace(raw.subarray(0, cut));
      expect(v === undefined || v === 256).toBe(true);
    }
    expect(versionInPlace(new Uint8Array([0x82, 0xa7]))).toBeUndefined();
    expect(versionInPlace(new Uint8Array(0))).toBeUndefined();
  });
});
