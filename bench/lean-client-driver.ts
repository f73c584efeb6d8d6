/** Forking bench/lean-client.ts and talking to it: shared by bench/unary.ts and bench/scale-out.ts. */
import { forkBenchChild, stopChild } from "./child.js";
import type { FromClient, ToClient } from "./lean-client.js";
import { summarize, type LoadResult } from "./load.js";

export interface LeanClient {
  /** One command at a time: each waits for the answer to the one before. */
  ask(m: ToClient): Promise<FromClient>;
  close(): Promise<void>;
}

export function startLeanClient(): LeanClient {
  const child = forkBenchChild("lean-client.ts", [], "lean-client");
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
  return { ask, close: () => stopChild(child, pid, () => child.send({ type: "close" } satisfies ToClient)) };
}

/** A `loaded` answer as a LoadResult. */
export function loadResult(r: FromClient): LoadResult {
  if (r.type !== "loaded") throw new Error(`expected a load result, got ${r.type}`);
  return summarize({ latencies: Float64Array.from(r.latencies), windowMs: r.windowMs, clientCpuUs: r.clientCpuUs }, r.errors, r.firstError);
}
