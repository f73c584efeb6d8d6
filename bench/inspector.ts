/**
 * The web inspector against many tasks: `npx tsx bench/inspector.ts` (one
 * JSON line per scenario on stdout, progress on stderr). Needs Debian's
 * Chromium (/usr/bin/chromium or CAIRN_CHROMIUM) and a built bundle (`npm
 * run inspector:build`).
 *
 * An application (probe servicer, relaxed durability: the fill is about
 * count, not fsyncs) in this process; Chromium headless. Scenarios:
 * - `inspector-bundle`: the bundle's bytes and gzip -9 bytes.
 * - `inspector-first-render-empty`: the baseline, same run: time from
 *   navigation to the tasks view showing its (empty) answer, on an empty
 *   server; median of BENCH_RENDERS.
 * - `inspector-first-render`: the same with BENCH_TASKS (100,000) tasks,
 *   to the first row on screen.
 * - `inspector-list-pages`: Tasks.List server answers with that many tasks:
 *   the newest page, a page deep in the table (after 50,000), and a filter
 *   no task matches (it answers a partial page after the bounded scan).
 *
 * The tasks are spawned due in a day (they wait, stored, and never run),
 * BENCH_SPAWN_IN_FLIGHT (256) at a time; the fill is bounded in count and
 * by DEADLINE_MS.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { Application, ExternalContext } from "../src/index.js";
import { Tasks, TaskStatus } from "../generated/cairn/v1/tasks_pb.js";
import { Probe } from "../generated/probe/v1/probe_cairn.js";
import { ProbeServicerImpl } from "../test/fixtures/probe-servicer.js";
import { inspectorBundleDir } from "../src/transport/inspector-route.js";
import { round } from "./load.js";
import { emit, log, wanted } from "./output.js";
import { CHROMIUM, CHROMIUM_ARGS } from "../test/e2e/chromium.js";

const TASKS = Number(process.env.BENCH_TASKS ?? 100_000);
const IN_FLIGHT = Number(process.env.BENCH_SPAWN_IN_FLIGHT ?? 256);
const RENDERS = Number(process.env.BENCH_RENDERS ?? 5);
/** Bounds the fill and every wait. */
const DEADLINE_MS = 15 * 60_000;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const bundle = inspectorBundleDir();
  if (!bundle) throw new Error("no inspector bundle: run `npm run inspector:build` first");
  if (wanted("inspector-bundle")) {
    const assets = readdirSync(join(bundle, "assets")).map((f) => readFileSync(join(bundle, "assets", f)));
    const html = readFileSync(join(bundle, "index.html"));
    const all = [html, ...assets];
    emit({
      scenario: "inspector-bundle",
      files: all.length,
      bytes: all.reduce((n, b) => n + b.length, 0),
      gzipBytes: all.reduce((n, b) => n + gzipSync(b, { level: 9 }).length, 0),
    });
  }

  const dataDir = mkdtempSync(join(tmpdir(), "cairn-bench-inspector-"));
  const app = new Application({ servicers: [ProbeServicerImpl], dataDir, port: 0, durability: "relaxed", insecureDevelopmentMode: true });
  await app.start();
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  const ctx = new ExternalContext({ url: app.url });
  try {
    /**
     * Navigation to the tasks view until `selector` is on screen, ms; and
     * where the time went, from the page's own clock: the bundle parsed and
     * run (DOMContentLoaded), the first call (Actors.Types) answered.
     */
    const render = async (selector: string) => {
      const page = await browser.newPage();
      try {
        const t0 = performance.now();
        await page.goto(`${app.url}/__/cairn/#/tasks`);
        await page.waitForSelector(selector, { timeout: DEADLINE_MS });
        const totalMs = performance.now() - t0;
        const marks = await page.evaluate(() => {
          const nav = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming;
          const types = performance.getEntriesByType("resource").find((e) => e.name.endsWith("/Types")) as PerformanceResourceTiming | undefined;
          return { domContentLoadedMs: nav.domContentLoadedEventEnd, typesCallMs: types ? types.responseEnd - types.startTime : -1 };
        });
        return { totalMs, ...marks };
      } finally {
        await page.close();
      }
    };
    const renders = async (selector: string) => {
      await render(selector); // warm: Chromium's first start of a renderer
      const runs: Array<Awaited<ReturnType<typeof render>>> = [];
      for (let i = 0; i < RENDERS; i++) runs.push(await render(selector));
      const times = runs.map((r) => r.totalMs);
      return {
        medianMs: round(median(times), 1),
        minMs: round(Math.min(...times), 1),
        maxMs: round(Math.max(...times), 1),
        renders: RENDERS,
        medianDomContentLoadedMs: round(median(runs.map((r) => r.domContentLoadedMs)), 1),
        medianTypesCallMs: round(median(runs.map((r) => r.typesCallMs)), 1),
      };
    };
    // The empty list has answered when its table is no longer busy.
    const empty = await renders('table.tasks[aria-busy="false"]');
    emit({ scenario: "inspector-first-render-empty", tasks: 0, ...empty });

    log(`spawning ${TASKS} tasks due in a day, ${IN_FLIGHT} at a time`);
    const t0 = performance.now();
    const deadline = Date.now() + DEADLINE_MS;
    let next = 0;
    const when = Date.now() + 86_400_000;
    const worker = async () => {
      while (next < TASKS && Date.now() < deadline) {
        const i = next++;
        await Probe.ref(`a${i % 1000}`).spawn({ when }).run(ctx, { scenario: "never", n: BigInt(i) }).started;
        if (i % 20_000 === 0) log(`${i} spawned`);
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    const fillSeconds = (performance.now() - t0) / 1000;
    log(`${next} spawned in ${round(fillSeconds, 1)} s`);

    if (wanted("inspector-first-render")) {
      const full = await renders('[data-testid="task-row"]');
      emit({ scenario: "inspector-first-render", tasks: next, fillSeconds: round(fillSeconds, 1), ...full, baselineEmptyMedianMs: empty.medianMs });
    }

    if (wanted("inspector-list-pages")) {
      const tasks = createClient(Tasks, createConnectTransport({ baseUrl: app.url, httpVersion: "2" }));
      const time = async (request: Parameters<typeof tasks.list>[0]) => {
        const t = performance.now();
        const page = await tasks.list(request);
        return { ms: round(performance.now() - t, 1), tasks: page.tasks.length, more: page.nextPageToken !== "" };
      };
      await time({ limit: 50, newestFirst: true }); // warm
      const newest = await time({ limit: 50, newestFirst: true });
      // A token 50,000 tasks in: the id of the task there.
      let token = "";
      for (let skipped = 0; skipped < Math.min(50_000, next - 1000); skipped += 1000) {
        token = (await tasks.list({ limit: 1000, pageToken: token })).nextPageToken;
      }
      const deep = await time({ limit: 50, pageToken: token });
      const sparse = await time({ limit: 50, status: TaskStatus.COMPLETED, newestFirst: true });
      emit({ scenario: "inspector-list-pages", tasks: next, newestPage: newest, pageAfter50k: deep, filterMatchingNone: sparse });
    }
  } finally {
    ctx.close();
    await browser.close();
    await app.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    log(`failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);
