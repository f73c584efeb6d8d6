/**
 * The server child of bench/tracing.ts: `tracing-server.ts none|sdk`. The
 * probe application, either as users run it without OpenTelemetry, or with
 * the SDK installed as a production setup would: a tracer provider with a
 * batch span processor, async-local context, W3C propagation, and a meter
 * provider aggregating every instrument. Exporters drop what they get, so
 * the cost measured is Cairn's instrumentation and the SDK, not a network.
 */
import { context, metrics, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { ExportResultCode, W3CTraceContextPropagator, type ExportResult } from "@opentelemetry/core";
import { AggregationTemporality, MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from "@opentelemetry/sdk-trace-base";
import { serveProbeApplication } from "./probe-server.js";

const done = (cb: (r: ExportResult) => void) => cb({ code: ExportResultCode.SUCCESS });

/** Spans exported, counted (reported as the child's counter). */
let exportedSpans = 0;

const spanSink: SpanExporter = {
  export: (spans, cb) => {
    exportedSpans += spans.length;
    done(cb);
  },
  shutdown: async () => {},
};

const metricSink: PushMetricExporter = {
  export: (_metrics, cb) => done(cb),
  forceFlush: async () => {},
  shutdown: async () => {},
  selectAggregationTemporality: () => AggregationTemporality.CUMULATIVE,
};

const mode = process.argv[2];
if (mode === "sdk") {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(spanSink)] }));
  metrics.setGlobalMeterProvider(
    new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter: metricSink, exportIntervalMillis: 1_000 })] }),
  );
} else if (mode !== "none") {
  throw new Error(`unknown mode ${String(mode)}; expected none or sdk`);
}

await serveProbeApplication(`tracing-${mode}`, {}, () => ({ exportedSpans }));
