// /healthz and /readyz on the application's port (issue 13, item 8): no
// token needed, /readyz 503 with a reason while the store refuses writes,
// and streams served through connect (gRPC Watch, Tasks.Watch) end with
// UNAVAILABLE "server stopping" when the application stops.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError, ExternalContext } from "@cairn-dev/cairn";
import { Probe } from "../generated/probe/v1/probe_cairn.js";
import { startProbeApp, probeTokens, type ProbeApp } from "./fixtures/probe-app.js";
import { defineScenario } from "./fixtures/probe-servicer.js";
import { StoreFaults } from "./fixtures/faulty-store.js";
import { gates as makeGates, waitFor } from "./fixtures/waiting.js";

const faults = new StoreFaults();
const { gate, has } = makeGates();

// Parked until the application stops: its signal ends the wait, so the stop
// need not wait out the drain bound for it.
defineScenario("health-parked", async (ctx) => {
  const stopped = new Promise<never>((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true }));
  await Promise.race([gate("health-parked"), stopped]);
  return { result: "never" };
});

async function get(url: string, path: string, method = "GET") {
  const res = await fetch(`${url}${path}`, { method });
  return { status: res.status, type: res.headers.get("content-type"), text: await res.text() };
}

describe("health endpoints", () => {
  let probe: ProbeApp;
  beforeAll(async () => {
    probe = await startProbeApp({ tokenVerifier: probeTokens(), wrapStore: faults.wrap });
  });
  afterAll(async () => {
    faults.heal();
    await probe?.app.stop();
  });

  it("answer without a token, in JSON, to GET and HEAD", async () => {
    const { url } = probe.app;
    expect(await get(url, "/healthz")).toEqual({ status: 200, type: "application/json", text: '{"status":"ok"}' });
    expect(await get(url, "/readyz")).toEqual({ status: 200, type: "application/json", text: '{"status":"ready"}' });
    expect(await get(url, "/readyz?verbose", "HEAD")).toMatchObject({ status: 200, text: "" });
    // Only GET and HEAD: anything else is the RPC router's.
    expect((await get(url, "/readyz", "POST")).status).not.toBe(200);
  });

  it("/readyz is 503 with the reason while the store refuses writes, and ready again once it takes them", async () => {
    const { url } = probe.app;
    faults.fail("ENOSPC");
    try {
      const failed = await Probe.ref("health-w").add(probe.ctx, { amount: 1n }).catch((e: unknown) => ConnectError.from(e));
      expect((failed as ConnectError).code).toBe(Code.Unavailable);
      const notReady = await get(url, "/readyz");
      expect(notReady.status).toBe(503);
      expect(JSON.parse(notReady.text)).toEqual({ status: "not ready", reason: "store not writable: disk full" });
      expect((await get(url, "/healthz")).status).toBe(200);
    } finally {
      faults.heal();
    }
    await waitFor(async () => (await get(url, "/readyz")).status === 200, "/readyz to be ready again");
  });
});

describe("stopping the application", () => {
  it("ends a gRPC Watch and a Tasks.Watch with UNAVAILABLE \"server stopping\"", async () => {
    const probe = await startProbeApp({ tokenVerifier: probeTokens() });
    let ctx: ExternalContext | undefined;
    try {
      // Not app.context(): the test application closes its own contexts first when it stops.
      ctx = new ExternalContext({ url: probe.app.url, transport: "grpc" });
      const abort = new AbortController();
      const watch = Probe.ref("health-watch").reactively(abort.signal).get(ctx)[Symbol.asyncIterator]();
      expect((await watch.next()).value?.counter).toBe(0n);
      const task = Probe.ref("health-task").spawn().run(ctx, { scenario: "health-parked" });
      await task.started;
      await waitFor(() => has("health-parked"), "the workflow to park");
      const taskUpdates = probe.tasks.watch({ taskId: task.taskId })[Symbol.asyncIterator]();
      await taskUpdates.next();
      const stopped = probe.app.stop();
      const ends = [watch.next(), taskUpdates.next()].map((next) =>
        next.then(
          () => undefined,
          (err: unknown) => ConnectError.from(err),
        ),
      );
      for (const e of await Promise.all(ends)) {
        expect([e?.code, e?.rawMessage]).toEqual([Code.Unavailable, "server stopping"]);
      }
      await stopped;
    } finally {
      ctx?.close();
      await probe.app.stop();
    }
  });
});
