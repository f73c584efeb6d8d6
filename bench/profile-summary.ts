/**
 * Summarizes V8 .cpuprofile files (node --cpu-prof): the functions with
 * the most self time, and our own functions (src/, examples/) by
 * inclusive time (a function counted once per sample however deep it
 * recurses), as percent of all samples and µs per call when `calls` is
 * given.
 *
 * `--from T`, `--to T`: only samples from / before T (µs on the profile's
 * clock, which is process.hrtime's: a driver prints it when its measured
 * load starts and ends).
 *
 *   npx tsx bench/profile-summary.ts [--calls N] [--top 40] [--filter src/] [--from T] FILE...
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { calls: { type: "string" }, top: { type: "string", default: "40" }, filter: { type: "string", default: "/src/|/examples/" }, from: { type: "string" }, to: { type: "string" } },
});
const top = Number(values.top);
const calls = values.calls ? Number(values.calls) : undefined;
const ours = new RegExp(values.filter!);
const from = values.from ? Number(values.from) : undefined;
const to = values.to ? Number(values.to) : undefined;

const self = new Map<string, number>();
const inclusive = new Map<string, number>();
let total = 0;

const nameOf = (n: ProfileNode) => {
  const { functionName, url, lineNumber } = n.callFrame;
  const file = url.replace(/^.*\/(node_modules\/|src\/|examples\/|bench\/|generated\/)/, "$1").replace(/^node:/, "");
  return `${functionName || "(anonymous)"} ${file}:${lineNumber + 1}`;
};

for (const file of positionals) {
  const p = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Sample i lasted timeDeltas[i + 1] (V8 records the delta before each sample).
  let at = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    at += p.timeDeltas[i]!;
    const us = p.timeDeltas[i + 1] ?? 0;
    if ((from !== undefined && at < from) || (to !== undefined && at >= to)) continue;
    const leaf = byId.get(p.samples[i]!)!;
    total += us;
    const leafName = nameOf(leaf);
    self.set(leafName, (self.get(leafName) ?? 0) + us);
    const seen = new Set<string>();
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const n = byId.get(id)!;
      const name = nameOf(n);
      if (seen.has(name)) continue;
      seen.add(name);
      if (ours.test(n.callFrame.url) || n.callFrame.url === "") inclusive.set(name, (inclusive.get(name) ?? 0) + us);
    }
  }
}

const row = (name: string, us: number) => {
  const pct = ((100 * us) / total).toFixed(1).padStart(5);
  const per = calls ? `${(us / calls).toFixed(1).padStart(8)} µs/call` : "";
  return `${pct}% ${per}  ${name}`;
};
console.log(`total ${(total / 1e6).toFixed(2)} s sampled${calls ? `, ${(total / calls).toFixed(0)} µs per call over ${calls} calls` : ""}`);
console.log(`\n== self time, top ${top}`);
for (const [name, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(row(name, us));
console.log(`\n== inclusive time of ${ours} (and VM entries), top ${top}`);
for (const [name, us] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(row(name, us));
