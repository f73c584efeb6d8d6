/**
 * The OpenTelemetry SDK as a production setup installs it, for
 * bench/tracing.ts: a tracer provider with a batch span processor,
 * async-local context, W3C propagation, and a meter provider aggregating
 * every instrument. Exporters drop what they get, so what is measured is
 * Cairn's instrumentation and the SDK, not a network.
 */
import { context, metrics, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { ExportResultCode, W3CTraceContextPropagator, type ExportResult } from "@opentelemetry/core";
import { AggregationTemporality, MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from "@opentelemetry/sdk-trace-base";

const done = (cb: (r: ExportResult) => void) => cb({ code: ExportResultCode.SUCCESS });

let exported = 0;

/** Spans the exporter was given so far. */
export const exportedSpans = (): number => exported;

const spanSink: SpanExporter = {
  export: (spans, cb) => {
    exported += spans.length;
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

/** Registers the SDK process-wide. */
export function installSdk(): void {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(spanSink)] }));
  metrics.setGlobalMeterProvider(
    new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter: metricSink, exportIntervalMillis: 1_000 })] }),
  );
}
