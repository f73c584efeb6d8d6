// Trace context (W3C `traceparent`/`tracestate` with the SDK's default
// propagator) as Cairn carries it: read from a request's headers, stored
// with a spawned task, sent on outgoing calls. Only `@opentelemetry/api`:
// with no SDK registered the propagator is a no-op and nothing is carried.
import { context, propagation, ROOT_CONTEXT, type Context } from "@opentelemetry/api";

/** The propagator's fields of a request (`traceparent`, `tracestate`, …), as plain strings that can be stored. */
export type TraceCarrier = Readonly<Record<string, string>>;

/** What trace context is read from: `Headers`, or a transport's own header map with `get`. */
export interface HeaderSource {
  get(name: string): string | null | undefined;
}

/** The trace context a request's headers carry, or undefined (nothing allocated) if none. */
export function traceCarrierOf(headers: HeaderSource): TraceCarrier | undefined {
  let carrier: Record<string, string> | undefined;
  for (const field of propagation.fields()) {
    const value = headers.get(field);
    if (value !== null && value !== undefined) (carrier ??= {})[field] = value;
  }
  return carrier;
}

/** The context a carrier names, as the parent of the spans that continue it. */
export function contextOfCarrier(carrier: TraceCarrier): Context {
  return propagation.extract(ROOT_CONTEXT, carrier);
}

/** The active trace context as a carrier to store, or undefined if there is none to continue. */
export function activeTraceCarrier(): TraceCarrier | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  for (const _ in carrier) return carrier;
  return undefined;
}

const HEADERS_SETTER = { set: (headers: Headers, key: string, value: string) => headers.set(key, value) };

/** Adds the active trace context to an outgoing call's headers. */
export function injectTraceContext(headers: Headers, ctx: Context = context.active()): void {
  propagation.inject(ctx, headers, HEADERS_SETTER);
}
