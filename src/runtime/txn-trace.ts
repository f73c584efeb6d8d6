// SCRATCH (dropped before the end): per-transfer timing split, env-gated by CAIRN_TXN_TRACE (a file prefix).
import { writeFileSync } from "node:fs";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";

const PREFIX = process.env.CAIRN_TXN_TRACE;
export const tracing = PREFIX !== undefined && PREFIX !== "";
const samples = new Map<string, number[]>();
const counts = new Map<string, number>();
export const now = (): number => (tracing ? performance.now() : 0);
export function sample(name: string, startMs: number): void {
  if (!tracing) return;
  let s = samples.get(name);
  if (!s) samples.set(name, (s = []));
  s.push(performance.now() - startMs);
}
export function value(name: string, v: number): void {
  if (!tracing) return;
  let s = samples.get(name);
  if (!s) samples.set(name, (s = []));
  s.push(v);
}
export function count(name: string, n = 1): void {
  if (tracing) counts.set(name, (counts.get(name) ?? 0) + n);
}
export const partOwners = new WeakSet<object>();
export const coordOwners = new WeakSet<object>();
if (tracing) {
  const eld = monitorEventLoopDelay({ resolution: 1 });
  eld.enable();
  process.on("SIGUSR2", () => {
    samples.clear();
    counts.clear();
    eld.reset();
  });
  process.on("exit", () => {
    const out: Record<string, unknown> = {};
    for (const [k, s] of [...samples.entries()].sort()) {
      s.sort((a, b) => a - b);
      const q = (p: number) => Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))]! * 100) / 100;
      out[k] = { n: s.length, mean: Math.round((s.reduce((a, b) => a + b, 0) / s.length) * 100) / 100, p50: q(0.5), p90: q(0.9), p99: q(0.99) };
    }
    out.counts = Object.fromEntries(counts);
    out.eventLoopDelayMs = { mean: eld.mean / 1e6, p50: eld.percentile(50) / 1e6, p99: eld.percentile(99) / 1e6 };
    writeFileSync(`${PREFIX}-${process.pid}.json`, JSON.stringify(out, null, 1));
  });
}
