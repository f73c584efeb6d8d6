/**
 * The one load loop every scenario uses: keep `inFlight` calls running,
 * discard a warm-up, then measure for a fixed time. Bounded in both time and
 * count: it stops at `seconds` or after `maxCalls` measured calls, whichever
 * comes first, and never starts a call after that.
 */
export interface LoadOptions {
  readonly inFlight: number;
  /** Calls run but not measured before the window opens. */
  readonly warmupSeconds: number;
  readonly seconds: number;
  /** Hard cap on calls in the measured window (also sizes the latency buffer). */
  readonly maxCalls: number;
  /** `i` counts every call started, warm-up included, from 0. */
  readonly call: (i: number) => Promise<unknown>;
  /** Awaited when the measured window opens and when it closes (e.g. to sample server CPU). */
  readonly onWindowStart?: () => Promise<void>;
  readonly onWindowEnd?: () => Promise<void>;
}

export interface LoadResult {
  readonly calls: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly seconds: number;
  readonly throughput: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Client-process CPU over the window, percent of one core. */
  readonly clientCpuPct: number;
  /** Raw material for merging windows: sorted latencies (ms), window ms, client CPU µs. */
  readonly raw: { readonly latencies: Float64Array; readonly windowMs: number; readonly clientCpuUs: number };
}

/** A load's counts and latencies as every bench's JSON line gives them (the first error only when there was one). */
export function loadFields(r: LoadResult) {
  return {
    calls: r.calls,
    errors: r.errors,
    ...(r.firstError !== undefined ? { firstError: r.firstError } : {}),
    throughput: r.throughput,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
  };
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const latencies = new Float64Array(o.maxCalls);
  let measured = 0;
  let errors = 0;
  let firstError: string | undefined;
  let started = 0;
  const t0 = performance.now();
  const warmupEnd = t0 + o.warmupSeconds * 1000;
  const hardEnd = warmupEnd + o.seconds * 1000;
  let windowStart = warmupEnd;
  let windowOpen = o.warmupSeconds <= 0;
  let windowStartHook: Promise<void> | undefined;
  let cpuStart = process.cpuUsage();

  const worker = async (): Promise<void> => {
    for (;;) {
      const now = performance.now();
      if (!windowOpen && now >= warmupEnd) {
        windowOpen = true;
        windowStart = now;
        cpuStart = process.cpuUsage();
        windowStartHook = o.onWindowStart?.();
      }
      if (now >= hardEnd || measured >= o.maxCalls) return;
      const inWindow = windowOpen;
      // Reserve the slot before awaiting, so the count bound is exact.
      const slot = inWindow ? measured++ : -1;
      const i = started++;
      const begin = performance.now();
      try {
        await o.call(i);
        if (slot >= 0) latencies[slot] = performance.now() - begin;
      } catch (e) {
        if (slot >= 0) {
          errors++;
          latencies[slot] = performance.now() - begin;
          firstError ??= e instanceof Error ? e.message : String(e);
        }
      }
    }
  };

  if (windowOpen) {
    cpuStart = process.cpuUsage();
    windowStartHook = o.onWindowStart?.();
  }
  await Promise.all(Array.from({ length: o.inFlight }, worker));
  const end = performance.now();
  const cpu = process.cpuUsage(cpuStart);
  await windowStartHook;
  await o.onWindowEnd?.();

  return summarize(
    { latencies: latencies.slice(0, measured).sort(), windowMs: end - windowStart, clientCpuUs: cpu.user + cpu.system },
    errors,
    firstError,
  );
}

/** One result from several windows (e.g. interleaved slices), as if they were one run. */
export function mergeLoads(results: readonly LoadResult[]): LoadResult {
  const total = results.reduce((n, r) => n + r.raw.latencies.length, 0);
  const all = new Float64Array(total);
  let at = 0;
  for (const r of results) {
    all.set(r.raw.latencies, at);
    at += r.raw.latencies.length;
  }
  return summarize(
    {
      latencies: all.sort(),
      windowMs: results.reduce((n, r) => n + r.raw.windowMs, 0),
      clientCpuUs: results.reduce((n, r) => n + r.raw.clientCpuUs, 0),
    },
    results.reduce((n, r) => n + r.errors, 0),
    results.find((r) => r.firstError !== undefined)?.firstError,
  );
}

/** A result from raw latencies (sorted), e.g. measured in another process. */
export function summarize(raw: LoadResult["raw"], errors: number, firstError: string | undefined): LoadResult {
  const sorted = raw.latencies;
  const seconds = raw.windowMs / 1000;
  return {
    calls: sorted.length,
    errors,
    ...(firstError !== undefined ? { firstError } : {}),
    seconds: round(seconds, 3),
    throughput: round(sorted.length / seconds, 1),
    p50Ms: round(percentile(sorted, 0.5), 3),
    p99Ms: round(percentile(sorted, 0.99), 3),
    maxMs: round(sorted.length ? sorted[sorted.length - 1]! : 0, 3),
    clientCpuPct: round((raw.clientCpuUs / 1000 / raw.windowMs) * 100, 1),
    raw,
  };
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[rank]!;
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
