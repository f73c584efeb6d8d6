// Spans of the runtime, over `@opentelemetry/api` only. With no SDK
// registered the tracer is a no-op: a span costs one small object and is
// never made active, so the hot path stays as it was.
import { context, INVALID_SPAN_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type SpanOptions } from "@opentelemetry/api";

/** Cairn's tracer: a proxy until an SDK registers a provider, so one taken at load serves every runtime. */
export const tracer = trace.getTracer("@cairn-dev/cairn");

/** Span attribute names (OpenTelemetry style: namespaced, snake case). */
export const ATTR = {
  stateType: "cairn.state_type",
  actorId: "cairn.actor_id",
  method: "cairn.method",
  methodKind: "cairn.method_kind",
  outcome: "cairn.outcome",
  taskId: "cairn.task_id",
  iteration: "cairn.task.iteration",
  attempt: "cairn.task.attempt",
  step: "cairn.step",
  alias: "cairn.step.alias",
} as const;

export const SERVER: SpanOptions = { kind: SpanKind.SERVER };
export const CLIENT: SpanOptions = { kind: SpanKind.CLIENT };
export const CONSUMER: SpanOptions = { kind: SpanKind.CONSUMER };
export const INTERNAL: SpanOptions = { kind: SpanKind.INTERNAL };

/**
 * Whether a span is worth making active: it records, or it carries a
 * parent's context to pass on. The no-op tracer's span without a parent
 * shares one invalid context object, so this is one comparison without an SDK.
 */
export function isLive(span: Span): boolean {
  return span.isRecording() || span.spanContext() !== INVALID_SPAN_CONTEXT;
}

/**
 * Runs `fn` as span `name` under `parent`: active while it runs (so calls it
 * makes are its children), ended with its outcome. `attributes` is asked
 * only of a span that records; `outcome` names how `fn` ended.
 */
export function inSpan<A, T>(
  name: string,
  options: SpanOptions,
  parent: Context,
  attributes: (arg: A) => Attributes,
  arg: A,
  fn: (arg: A) => Promise<T>,
  outcome?: (result: T) => string | undefined,
): Promise<T> {
  const span = tracer.startSpan(name, options, parent);
  // No SDK and no parent to pass on: nothing to record or make active.
  if (!isLive(span)) return fn(arg);
  if (span.isRecording()) span.setAttributes(attributes(arg));
  return context.with(trace.setSpan(parent, span), fn, undefined, arg).then(
    (result) => {
      const named = outcome?.(result);
      if (named !== undefined && span.isRecording()) span.setAttribute(ATTR.outcome, named);
      span.end();
      return result;
    },
    (e: unknown) => {
      failed(span, e);
      throw e;
    },
  );
}

/** Records a failure on a span and ends it. */
export function failed(span: Span, e: unknown, outcome?: string): void {
  if (span.isRecording()) {
    if (outcome !== undefined) span.setAttribute(ATTR.outcome, outcome);
    span.recordException(e instanceof Error ? e : String(e));
    span.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? e.message : String(e) });
  }
  span.end();
}
