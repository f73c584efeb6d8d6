/** Forking bench/lean-client.ts and talking to it: shared by bench/unary.ts and bench/scale-out.ts. */
import { forkBenchChild, stopChild } from "./child.js";
import type { FromClient, ToClient } from "./lean-client.js";
import { summarize, type LoadResult } from "./load.js";

export interface LeanClient {
  /** The client's process(es). */
  readonly pids: readonly number[];
  /** One command at a time: each waits for the answer to the one before. */
  ask(m: ToClient): Promise<FromClient>;
  close(): Promise<void>;
}

export function startLeanClient(index = 0): LeanClient {
  const child = forkBenchChild("lean-client.ts", [], `lean-client-${index}`);
  const pid = child.pid;
  if (pid === undefined) throw new Error("could not fork the lean client");
  let queue = Promise.resolve<unknown>(undefined);
  const ask = (m: ToClient) => {
    const answer = queue.then(
      () =>
        new Promise<FromClient>((resolve, reject) => {
          child.once("message", (r: FromClient) => (r.type === "failed" ? reject(new Error(`lean client: ${r.error}`)) : resolve(r)));
          child.send(m);
        }),
    );
    queue = answer.catch(() => {});
    return answer;
  };
  return { pids: [pid], ask, close: () => stopChild(child, pid, () => child.send({ type: "close" } satisfies ToClient)) };
}

/** A share of `total` for client `i` of `n` (the shares add up to `total`). */
const share = (total: number, i: number, n: number): number => Math.floor(total / n) + (i < total % n ? 1 : 0);

/**
 * BENCH_CLIENTS lean client processes as one client: each opens its share
 * of the connections and sends every n-th request of a set; their loads
 * run at once and answer as one (latencies together, the longest window,
 * CPU summed).
 */
export function startLeanClients(n: number, h2Sessions: number): LeanClient {
  const clients = Array.from({ length: n }, (_, i) => startLeanClient(i));
  const ask = async (m: ToClient): Promise<FromClient> => {
    if (m.type === "open") {
      const opened = await Promise.all(clients.map((c, i) => c.ask({ ...m, inFlight: share(m.inFlight, i, n), sessions: share(h2Sessions, i, n) || 1 })));
      return opened[0]!;
    }
    if (m.type !== "load") return (await Promise.all(clients.map((c) => c.ask(m))))[0]!;
    const loads = await Promise.all(clients.map((c, i) => c.ask({ ...m, maxCalls: share(m.maxCalls, i, n), offset: i, stride: n })));
    let merged: FromClient = { type: "loaded", latencies: [], windowMs: 0, clientCpuUs: 0, errors: 0 };
    for (const r of loads) {
      if (r.type !== "loaded" || merged.type !== "loaded") throw new Error(`expected a load result, got ${r.type}`);
      merged = {
        ...merged,
        latencies: merged.latencies.concat(r.latencies),
        windowMs: Math.max(merged.windowMs, r.windowMs),
        clientCpuUs: merged.clientCpuUs + r.clientCpuUs,
        errors: merged.errors + r.errors,
        ...(merged.firstError === undefined && r.firstError !== undefined ? { firstError: r.firstError } : {}),
      };
    }
    if (merged.type === "loaded") merged.latencies.sort((a, b) => a - b);
    return merged;
  };
  return { pids: clients.flatMap((c) => c.pids), ask, close: async () => void (await Promise.all(clients.map((c) => c.close()))) };
}

/** A `loaded` answer as a LoadResult. */
export function loadResult(r: FromClient): LoadResult {
  if (r.type !== "loaded") throw new Error(`expected a load result, got ${r.type}`);
  return summarize({ latencies: Float64Array.from(r.latencies), windowMs: r.windowMs, clientCpuUs: r.clientCpuUs }, r.errors, r.firstError);
}
