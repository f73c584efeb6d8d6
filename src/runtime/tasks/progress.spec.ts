import { afterEach, describe, expect, it } from "vitest";
import { pino } from "pino";
import { LmdbStore } from "../../store/lmdb-store.js";
import { systemClock } from "../clock.js";
import { waitFor } from "../../../test/fixtures/waiting.js";
import { tempDirs } from "../../../test/fixtures/temp-dirs.js";
import { TaskHub } from "./progress.js";

const dirs = tempDirs("cairn-progress-");
const logger = pino({ level: "silent" });
let store: LmdbStore | undefined;
afterEach(async () => {
  await store?.close();
  store = undefined;
});

/** Lets the hub's write timer (due at once for a first report) fire first. */
const afterHubTimer = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

describe("TaskHub (a real LMDB store)", () => {
  it("keeps the newest report when an older write becomes visible after the run ended", async () => {
    store = new LmdbStore({ path: dirs(), logger });
    const s = store;
    const hub = new TaskHub({ clock: systemClock, store: s, logger });
    hub.report("t1", { location: "half", fraction: 0.5 });
    await afterHubTimer(); // the 0.5 write is issued, not yet visible
    hub.report("t1", { location: "done", fraction: 1 });
    const end = hub.takeForEndOfRun("t1"); // the run ends: its last report goes with its record
    expect(end.progress?.[0]?.progress.fraction).toBe(1);
    let told = false;
    hub.subscribe("t1", () => (told = s.getProgress("t1")?.fraction === 0.5));
    await waitFor(() => told, "the hub to hear of the older write");
    // Watchers must not see progress go back from 1 to 0.5.
    expect(hub.progress("t1")?.fraction).toBe(1);
    await s.commit({ states: [], idempotency: [], progress: end.progress });
    await waitFor(() => s.getProgress("t1")?.fraction === 1, "the end-of-run write to be visible");
    expect(hub.progress("t1")).toMatchObject({ location: "done", fraction: 1 });
  });

  it("counts its durable writes", async () => {
    store = new LmdbStore({ path: dirs(), logger });
    const hub = new TaskHub({ clock: systemClock, store, logger });
    hub.report("t2", { fraction: 0.1 });
    hub.takeForEndOfRun("t2");
    expect(hub.writes).toBe(1);
  });
});
