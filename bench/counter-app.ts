/** Calls to the counter app that `cairn init` writes, for the bench drivers of a new app and its dev loop. */
import { createServer } from "node:net";

/** Bounds a step that hangs; none is expected to take more than seconds. */
export const STEP_TIMEOUT_MS = 120_000;

/** A free loopback port, so every restart of the dev server keeps its URL. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as { port: number };
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

/** One Connect JSON call of counter.v1.CounterMethods over HTTP/1.1; undefined if nothing answers or the server is stopping. */
export async function call(url: string, method: string, body: object): Promise<Record<string, unknown> | undefined> {
  try {
    const res = await fetch(`${url}/counter.v1.CounterMethods/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-cairn-actor-id": "c1" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const json = (await res.json()) as Record<string, unknown>;
    // UNAVAILABLE: the old server is draining for a restart; ask again, as a client should.
    if (res.status === 503 && json.code === "unavailable") return undefined;
    if (!res.ok) throw new Error(`${method}: HTTP ${res.status} ${JSON.stringify(json)}`);
    return json;
  } catch (e) {
    if (e instanceof TypeError) return undefined; // refused or reset: the server is (re)starting
    throw e;
  }
}

/** Calls Get until `ok(response)`; resolves with the time it became true. */
export async function until(url: string, what: string, ok: (res: Record<string, unknown>) => boolean): Promise<number> {
  const deadline = performance.now() + STEP_TIMEOUT_MS;
  let last: Record<string, unknown> | undefined;
  while (performance.now() < deadline) {
    const res = await call(url, "Get", {});
    if (res && ok(res)) return performance.now();
    last = res ?? last;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}; the last answer: ${JSON.stringify(last)}`);
}

/** Calls Create until the server answers (it is starting); resolves with the time it did. */
export async function firstAnswer(url: string): Promise<number> {
  const deadline = performance.now() + STEP_TIMEOUT_MS;
  while (!(await call(url, "Create", { initial: "1" }))) {
    if (performance.now() > deadline) throw new Error(`nothing answered on ${url}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return performance.now();
}
