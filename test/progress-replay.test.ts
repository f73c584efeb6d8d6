// Progress never goes backwards (README "importAll"): a workflow re-runs
// from the top after every sleep, until and awaitRemote, and its memoized
// steps replay the ctx.progress() reports made before them. Those reports
// are not published again: watchers see the fraction only grow, and a
// COMPLETED task shows 100%.
import type { Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { atLeastOnce, awaitRemote, done, running, sleep, until, type WorkflowContext } from "@cairn-dev/cairn";
import type { TestApplication } from "@cairn-dev/cairn/testing";
import { TaskStatus, type TaskInfo, type Tasks } from "../generated/cairn/v1/tasks_pb.js";
import { Probe } from "../generated/probe/v1/probe_cairn.js";
import type { Runtime } from "../src/runtime/runtime.js";
import { startProbeApp } from "./fixtures/probe-app.js";
import { defineScenario } from "./fixtures/probe-servicer.js";
import { eventually, within } from "./fixtures/waiting.js";

const HOUR = 3_600_000;
const FILES = ["a.csv", "b.csv", "c.csv", "d.csv"];

/** Every fraction the task's in-process hub showed, in order: what any watcher could see. */
const shown = new Map<string, Array<number | undefined>>();
const runs = new Map<string, number>();
/** Actors whose until found its condition false (the run then suspends). */
const untilWaited = new Set<string>();
const checks = new Map<string, number>();

function recordHub(ctx: WorkflowContext): void {
  if (shown.has(ctx.actorId)) return;
  const list: Array<number | undefined> = [];
  shown.set(ctx.actorId, list);
  const hub = (ctx as unknown as { runtime: Runtime }).runtime.taskHub;
  hub.subscribe(ctx.taskId, () => {
    const fraction = hub.progress(ctx.taskId)?.fraction;
    if (fraction !== list.at(-1)) list.push(fraction);
  });
}

// README's importAll, suspended after each file in another way: a sleep, an
// until (the actor's counter), an awaitRemote (done on its second check).
defineScenario("importAll", async (ctx, _req, self) => {
  recordHub(ctx);
  runs.set(ctx.actorId, (runs.get(ctx.actorId) ?? 0) + 1);
  for (let i = 0; i < FILES.length; i++) {
    ctx.progress({ location: FILES[i], fraction: i / FILES.length, remainingMs: (FILES.length - i) * 200 });
    await atLeastOnce(`import ${FILES[i]}`, ctx, () => i);
    if (i === 0) await sleep("rest", ctx, "1h");
    if (i === 1) {
      await until("approved", ctx, async () => {
        const approved = (await self.state.read(ctx)).counter >= 1n;
        if (!approved) untilWaited.add(ctx.actorId);
        return approved;
      });
    }
    if (i === 2) {
      await awaitRemote("upload", ctx, {
        start: () => ({ job: ctx.actorId }),
        check: (input) => {
          const n = (checks.get(ctx.actorId) ?? 0) + 1;
          checks.set(ctx.actorId, n);
          return n < 2 ? running(input) : done(true);
        },
        backoff: { initialMs: HOUR, multiplier: 1, maxMs: HOUR },
      });
    }
  }
  return {};
});

let app: TestApplication;
let tasks: Client<typeof Tasks>;

beforeAll(async () => {
  ({ app, tasks } = await startProbeApp());
});
afterAll(() => app?.stop());

async function watchAll(taskId: string): Promise<TaskInfo[]> {
  const seen: TaskInfo[] = [];
  for await (const info of tasks.watch({ taskId })) seen.push(info);
  return seen;
}

function expectNeverBackwards(fractions: ReadonlyArray<number | undefined>): void {
  const known = fractions.filter((f): f is number => f !== undefined);
  for (let i = 1; i < known.length; i++) {
    expect(known[i], `fractions ${known.join(", ")}`).toBeGreaterThanOrEqual(known[i - 1]!);
  }
  expect(known.at(-1)).toBe(1);
}

describe("progress across resumes", () => {
  it("never goes backwards after sleep, until and awaitRemote, and ends at 100%", async () => {
    const ctx = app.context();
    const id = "importer";
    const task = Probe.ref(id).spawn().run(ctx, { scenario: "importAll" });
    await task.started;
    const watched = watchAll(task.taskId);
    watched.catch(() => undefined); // awaited below; a failed test must not leave it unhandled
    const waitingAnHour = () =>
      eventually(async () => Number((await tasks.get({ taskId: task.taskId })).runAtMs) > app.clock.now() + HOUR / 2, 5_000, "a wait of an hour");

    await waitingAnHour(); // the sleep
    app.clock.advance("1h");

    // Committed once until has read the counter: the task resumes either way.
    await eventually(() => untilWaited.has(id), 5_000, "the until to wait");
    await Probe.ref(id).add(ctx, { amount: 1n });

    await waitingAnHour(); // the awaitRemote
    app.clock.advance("1h");

    await within(task, 10_000, "the import");
    expect(runs.get(id)).toBe(4); // the first run and three resumes: each replayed what came before

    const seen = await within(watched, 10_000, "the watch to end");
    expect(seen.at(-1)!.status).toBe(TaskStatus.COMPLETED);
    expectNeverBackwards(seen.map((i) => i.progress?.fraction));
    expect(seen.at(-1)!.progress).toMatchObject({ location: "d.csv", fraction: 1, remainingMs: 0n });
    expectNeverBackwards(shown.get(id)!);
    // Every file's fraction was shown on the way.
    expect(shown.get(id)).toEqual(expect.arrayContaining([0, 0.25, 0.5, 0.75, 1]));

    const stored = await tasks.get({ taskId: task.taskId });
    expect(stored.progress?.fraction).toBe(1);
  });
});
