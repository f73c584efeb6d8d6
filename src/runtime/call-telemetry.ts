import { context, trace, type Context, type Span } from "@opentelemetry/api";
import type { Call, Caller } from "./call.js";
import { contextOfCarrier } from "../api/trace-context.js";
import { wireCodeOf } from "../api/wire-error.js";
import type { MethodSpec } from "../api/spec.js";
import { outcomeName, type RuntimeMetrics } from "./metrics.js";
import { ATTR, CLIENT, failed, isLive, SERVER, tracer } from "./tracing.js";

/** Span names, made once per method: `pkg.CounterMethods/Increment`, `spawn pkg.CounterMethods/Run`. */
const NAMES = new WeakMap<MethodSpec, { call: string; spawn: string }>();

function namesOf(call: Call): { call: string; spawn: string } {
  let names = NAMES.get(call.method);
  if (!names) {
    const name = `${call.spec.service.typeName}/${call.method.desc.name}`;
    NAMES.set(call.method, (names = { call: name, spawn: `spawn ${name}` }));
  }
  return names;
}

/**
 * What is observed of every call the runtime dispatches, whichever
 * transport brought it: a span (SERVER for external callers, continuing the
 * trace context their headers carried; CLIENT for calls a handler makes,
 * under the handler's span) and the call metrics by method and outcome.
 */
export class CallTelemetry {
  constructor(private readonly metrics: RuntimeMetrics) {}

  /** Runs `run(call, caller)` observed; `spawn` marks the start of a task rather than a call. */
  observe<T>(call: Call, caller: Caller, run: (call: Call, caller: Caller) => Promise<T>, spawn = false): Promise<T> {
    const timed = this.metrics.enabled;
    const parent = caller.trace ? contextOfCarrier(caller.trace) : context.active();
    const names = namesOf(call);
    const span = tracer.startSpan(spawn ? names.spawn : names.call, caller.internal ? CLIENT : SERVER, parent);
    // With no SDK, no parent and no meter there is nothing to record, pass on or time: no wrapper.
    const live = isLive(span);
    if (!live && !timed) {
      // `run` may throw before it has a promise (the dispatcher is not async): the caller gets a rejection all the same.
      try {
        return run(call, caller);
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return this.#observed(call, caller, run, span, live, timed, parent);
  }

  async #observed<T>(
    call: Call,
    caller: Caller,
    run: (call: Call, caller: Caller) => Promise<T>,
    span: Span,
    live: boolean,
    timed: boolean,
    parent: Context,
  ): Promise<T> {
    const start = timed ? performance.now() : 0;
    if (span.isRecording()) describeCall(span, call);
    try {
      const result = await (live ? context.with(trace.setSpan(parent, span), run, undefined, call, caller) : run(call, caller));
      if (span.isRecording()) span.setAttribute(ATTR.outcome, "ok");
      span.end();
      if (timed) this.metrics.call(call.method, call.spec.typeName, "ok", (performance.now() - start) / 1000);
      return result;
    } catch (e) {
      const outcome = outcomeName(wireCodeOf(e, call.method));
      failed(span, e, outcome);
      if (timed) this.metrics.call(call.method, call.spec.typeName, outcome, (performance.now() - start) / 1000);
      throw e;
    }
  }
}

/** The attributes of a call's span, set only on one that records. */
function describeCall(span: Span, call: Call): void {
  span.setAttributes({
    [ATTR.stateType]: call.spec.typeName,
    [ATTR.actorId]: call.actorId,
    [ATTR.method]: call.method.name,
    [ATTR.methodKind]: call.method.kind,
    "rpc.system": "cairn",
    "rpc.service": call.spec.service.typeName,
    "rpc.method": call.method.desc.name,
  });
}
