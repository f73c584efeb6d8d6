// OpenTelemetry through real servers (README "Operating Cairn: tracing and
// metrics"): the server uses only @opentelemetry/api; this file registers
// the SDK's in-memory exporters process-wide (vitest gives each file its
// own worker) and removes them at the end.
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { context, metrics, propagation, ROOT_CONTEXT, trace, TraceFlags, type Context } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { AggregationTemporality, MeterProvider, MetricReader, type DataPoint, type Histogram } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { atLeastOnce, Loop, Task, until, type ExternalContext } from "@cairn-dev/cairn";
import type { TestApplication } from "@cairn-dev/cairn/testing";
import { encodeActorIdHeader } from "../src/api/actor-id-header.js";
import { ACTOR_ID_HEADER } from "../src/api/headers.js";
import { Probe, ProbeSpec, RunAborted } from "../generated/probe/v1/probe_cairn.js";
import { ProbeErrorSchema, ProbeMethods, type RunResponse } from "../generated/probe/v1/probe_pb.js";
import { startProbeApp } from "./fixtures/probe-app.js";
import { defineScenario } from "./fixtures/probe-servicer.js";
import { eventually, rejectionOf, within } from "./fixtures/waiting.js";

/** A reader the test collects from when it wants to (no export interval). */
class OnDemandReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

const spans = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
const reader = new OnDemandReader();
const meterProvider = new MeterProvider({ readers: [reader] });
const contextManager = new AsyncLocalStorageContextManager();

defineScenario("otel-fanout", async (ctx) => {
  await Probe.ref("otel-x").idempotently("x").add(ctx, { amount: 1n });
  await Probe.ref("otel-y").idempotently("y").add(ctx, { amount: 2n });
  const sum = await atLeastOnce("sum", ctx, async () => (await Probe.ref("otel-x").getWith(ctx, { other: "otel-y" })).counter);
  return { result: "fanned out", value: sum };
});
defineScenario("otel-later", async () => ({ result: "ran later" }));
defineScenario("otel-loop", async (ctx) => (ctx.iteration === 0 ? new Loop() : { result: "looped" }));
defineScenario("otel-until", async (ctx) => {
  await until("flag", ctx, async () => (await Probe.ref(ctx.actorId).get(ctx)).flag);
  return { result: "woke" };
});
defineScenario("otel-abort", async () => {
  throw new RunAborted(create(ProbeErrorSchema, { reason: "declared" }));
});

let app: TestApplication;
let ctx: ExternalContext;

beforeAll(async () => {
  // Before the application starts: its meter is taken when it is built.
  context.setGlobalContextManager(contextManager.enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
  ({ app, ctx } = await startProbeApp());
});

afterAll(async () => {
  await app?.stop();
  trace.disable();
  metrics.disable();
  propagation.disable();
  context.disable();
  await tracerProvider.shutdown();
  await meterProvider.shutdown();
});

/** A remote parent, as a caller outside the application would send it. */
function remoteParent(): { traceId: string; spanId: string; traceparent: string; ctx: Context } {
  const traceId = randomHex(16);
  const spanId = randomHex(8);
  const parent = trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, traceFlags: TraceFlags.SAMPLED, isRemote: true });
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01`, ctx: parent };
}

function randomHex(bytes: number): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("hex");
}

const inTrace = (traceId: string) => spans.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
const named = (list: ReadableSpan[], name: string) => list.filter((s) => s.name === name);

describe("tracing", () => {
  it("a call sent with a traceparent header gets a SERVER span with that parent and the call's attributes", async () => {
    const { traceId, spanId, traceparent } = remoteParent();
    const client = createClient(ProbeMethods, createConnectTransport({ baseUrl: app.url, httpVersion: "1.1" }));
    await client.add(
      { amount: 5n },
      { headers: { traceparent, tracestate: "vendor=1", [ACTOR_ID_HEADER]: encodeActorIdHeader("otel-header") } },
    );
    const span = await within(
      (async () => {
        let found: ReadableSpan | undefined;
        await eventually(() => !!(found = inTrace(traceId)[0]), "the call's span");
        return found!;
      })(),
    );
    expect(span.name).toBe("probe.v1.ProbeMethods/Add");
    expect(span.kind).toBe(1 /* SERVER */);
    expect(parentOf(span)).toBe(spanId);
    expect(span.spanContext().traceState?.get("vendor")).toBe("1");
    expect(span.attributes).toMatchObject({
      "cairn.state_type": "probe.v1.Probe",
      "cairn.actor_id": "otel-header",
      "cairn.method": "add",
      "cairn.outcome": "ok",
    });
  });

  it("a malformed traceparent is ignored: the call succeeds as the root of a new trace", async () => {
    const client = createClient(ProbeMethods, createConnectTransport({ baseUrl: app.url, httpVersion: "1.1" }));
    const view = await client.add(
      { amount: 1n },
      { headers: { traceparent: "00-not-a-trace-01", [ACTOR_ID_HEADER]: encodeActorIdHeader("otel-garbage") } },
    );
    expect(view.counter).toBe(1n);
    let span: ReadableSpan | undefined;
    await eventually(() => !!(span = spans.getFinishedSpans().find((s) => s.attributes["cairn.actor_id"] === "otel-garbage")), "the call's span");
    expect(span!.parentSpanContext).toBeUndefined();
    expect(trace.isSpanContextValid(span!.spanContext())).toBe(true);
  });

  it("a workflow calling two actors is one trace: call → task run → client calls and steps, nested", async () => {
    const parent = remoteParent();
    // The ExternalContext sends the active trace context on its calls.
    const res = await context.with(parent.ctx, () => within(Probe.ref("otel-flow").run(ctx, { scenario: "otel-fanout" })));
    expect(res).toMatchObject({ result: "fanned out", value: 3n });
    let list: ReadableSpan[] = [];
    await eventually(() => named((list = inTrace(parent.traceId)), "run probe.v1.Probe/run").length === 1, "the task run's span");

    const [call] = named(list, "probe.v1.ProbeMethods/Run");
    expect(call).toBeDefined();
    expect(parentOf(call!)).toBe(parent.spanId);
    const [run] = named(list, "run probe.v1.Probe/run");
    expect(parentOf(run!)).toBe(call!.spanContext().spanId);
    expect(run!.attributes).toMatchObject({ "cairn.actor_id": "otel-flow", "cairn.outcome": "completed" });

    const adds = named(list, "probe.v1.ProbeMethods/Add");
    expect(adds.map((s) => s.attributes["cairn.actor_id"]).sort()).toEqual(["otel-x", "otel-y"]);
    for (const add of adds) {
      expect(add.kind).toBe(2 /* CLIENT */);
      expect(parentOf(add)).toBe(run!.spanContext().spanId);
    }
    // The step is the run's child; the reader it calls is the step's, and
    // the reader that reader calls is that call's.
    const [step] = named(list, "atLeastOnce");
    expect(parentOf(step!)).toBe(run!.spanContext().spanId);
    expect(step!.attributes).toMatchObject({ "cairn.step.alias": "sum" });
    const [getWith] = named(list, "probe.v1.ProbeMethods/GetWith");
    expect(parentOf(getWith!)).toBe(step!.spanContext().spanId);
    const [get] = named(list, "probe.v1.ProbeMethods/Get");
    expect(parentOf(get!)).toBe(getWith!.spanContext().spanId);
  });

  it("a spawned task's run continues the spawning call's trace after a restart", async () => {
    const parent = remoteParent();
    const task = context.with(parent.ctx, () =>
      Probe.ref("otel-later").spawn({ when: app.clock.now() + 3_600_000 }).run(ctx, { scenario: "otel-later" }),
    );
    await within(task.started);
    const [spawn] = named(inTrace(parent.traceId), "spawn probe.v1.ProbeMethods/Run");
    expect(spawn).toBeDefined();
    expect(parentOf(spawn!)).toBe(parent.spanId);

    await within(app.restart(), 15_000, "restart");
    app.clock.advance("1h");
    const fresh = app.context();
    await within(new Task<RunResponse>(task.taskId, fresh, ProbeSpec.methods.run!));
    let run: ReadableSpan | undefined;
    await eventually(() => !!(run = named(inTrace(parent.traceId), "run probe.v1.Probe/run")[0]), "the run's span");
    expect(parentOf(run!)).toBe(spawn!.spanContext().spanId);
    expect(run!.attributes).toMatchObject({ "cairn.task_id": task.taskId, "cairn.outcome": "completed" });
  });

  it("a Loop's first iteration continues the caller's trace; later ones start their own, linked to it", async () => {
    const parent = remoteParent();
    const res = await context.with(parent.ctx, () => within(Probe.ref("otel-loop").run(ctx, { scenario: "otel-loop" })));
    expect(res).toMatchObject({ result: "looped" });
    const [call] = named(inTrace(parent.traceId), "probe.v1.ProbeMethods/Run");
    expect(call).toBeDefined();
    const runs = () =>
      named(spans.getFinishedSpans(), "run probe.v1.Probe/run").filter((s) => s.attributes["cairn.actor_id"] === "otel-loop");
    await eventually(() => runs().length === 2, "both iterations' spans");
    const [first, second] = [...runs()].sort((a, b) => Number(a.attributes["cairn.task.iteration"]) - Number(b.attributes["cairn.task.iteration"]));
    expect(first!.spanContext().traceId).toBe(parent.traceId);
    expect(parentOf(first!)).toBe(call!.spanContext().spanId);
    expect(second!.spanContext().traceId).not.toBe(parent.traceId);
    expect(second!.parentSpanContext).toBeUndefined();
    expect(second!.links.map((l) => l.context.spanId)).toEqual([call!.spanContext().spanId]);
  });
});

describe("metrics", () => {
  it("counts calls and their latency by method and outcome, commits and their sizes, and the task load", async () => {
    await Probe.ref("otel-m").unidempotently().add(ctx, { amount: 1n });
    await Probe.ref("otel-m").unidempotently().add(ctx, { amount: 1n });
    expect(await rejectionOf(Probe.ref("otel-m").run(ctx, { scenario: "otel-abort" }))).toBeInstanceOf(RunAborted);

    const { resourceMetrics, errors } = await reader.collect();
    expect(errors).toEqual([]);
    const all = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
    const metric = (name: string) => {
      const found = all.find((m) => m.descriptor.name === name);
      expect(found, name).toBeDefined();
      return found!;
    };
    const point = (name: string, attrs: Record<string, string>) =>
      metric(name).dataPoints.find((p) => Object.entries(attrs).every(([k, v]) => p.attributes[k] === v)) as DataPoint<unknown> | undefined;

    const adds = point("cairn.calls", { "cairn.method": "add", "cairn.outcome": "ok", "cairn.state_type": "probe.v1.Probe" });
    expect(adds?.value).toBeGreaterThanOrEqual(2);
    const aborted = point("cairn.calls", { "cairn.method": "run", "cairn.outcome": "aborted" });
    expect(aborted?.value).toBeGreaterThanOrEqual(1);
    const latency = point("cairn.call.duration", { "cairn.method": "add", "cairn.outcome": "ok" }) as DataPoint<Histogram> | undefined;
    expect(latency?.value.count).toBeGreaterThanOrEqual(2);
    expect(latency?.value.sum).toBeGreaterThan(0);

    const commits = point("cairn.store.commits", { "cairn.outcome": "ok" });
    expect(commits?.value).toBeGreaterThanOrEqual(2);
    const sizes = metric("cairn.store.commit.writes").dataPoints[0] as DataPoint<Histogram>;
    expect(sizes.value.count).toBeGreaterThanOrEqual(2);
    expect(sizes.value.min).toBeGreaterThanOrEqual(1);

    for (const gauge of ["cairn.tasks.queued", "cairn.tasks.running", "cairn.tasks.suspended"]) {
      expect(metric(gauge).dataPoints).toHaveLength(1);
    }
  });

  it("the suspended-task gauge counts a workflow waiting in until, and drops when it wakes", async () => {
    const gauge = async (name: string) => {
      const { resourceMetrics } = await reader.collect();
      const found = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name);
      return found?.dataPoints[0]?.value as number | undefined;
    };
    const task = Probe.ref("otel-wait").spawn().run(ctx, { scenario: "otel-until" });
    await within(task.started);
    await eventually(async () => (await gauge("cairn.tasks.suspended")) === 1, "the suspended gauge at 1");
    expect(await gauge("cairn.tasks.running")).toBe(0);
    await Probe.ref("otel-wait").unidempotently().setFlag(ctx, { flag: true });
    expect(await within(task)).toMatchObject({ result: "woke" });
    await eventually(async () => (await gauge("cairn.tasks.suspended")) === 0, "the suspended gauge back at 0");
  });
});
