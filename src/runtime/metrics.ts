// The runtime's metrics, over `@opentelemetry/api` only: with no SDK
// registered every instrument is a no-op.
import { createNoopMeter, metrics, ValueType, type Attributes, type BatchObservableCallback, type Counter, type Histogram, type Meter, type ObservableGauge } from "@opentelemetry/api";
import { Code } from "@connectrpc/connect";
import type { CommitBatch } from "../store/store.js";
import type { MethodSpec } from "../api/spec.js";

/** How many tasks are where, for the observable gauges. */
export interface TaskLoad {
  /** Due, waiting for a free run slot. */
  readonly queued: number;
  readonly running: number;
  /** Suspended in `until`, waiting for a state they read to change. */
  readonly suspended: number;
}

/** A call's outcome as a metric label: "ok", or its wire code in snake case ("not_found"). */
const OUTCOMES: ReadonlyMap<Code | "ok", string> = new Map<Code | "ok", string>([
  ["ok", "ok"],
  ...Object.values(Code)
    .filter((c): c is Code => typeof c === "number")
    .map((c) => [c, Code[c].replace(/[A-Z]/g, (m, i: number) => (i ? "_" : "") + m.toLowerCase())] as [Code, string]),
]);

export function outcomeName(code: Code | "ok"): string {
  return OUTCOMES.get(code) ?? "unknown";
}

/**
 * The instruments of one runtime, made when it is built (the meter
 * provider registered then is the one used): calls by method and outcome,
 * commits and their sizes, and gauges of the task load.
 */
export class RuntimeMetrics {
  readonly #calls: Counter;
  readonly #duration: Histogram;
  readonly #commits: Counter;
  readonly #commitWrites: Histogram;
  readonly #gauges: ObservableGauge[];
  readonly #meter: Meter;
  /**
   * False while no meter provider is registered: then calls are not timed
   * at all (a clock read costs more than the rest of a no-op call here).
   */
  readonly enabled: boolean;
  #observe: BatchObservableCallback | undefined;
  /** Per method, per outcome: the attribute set, made once (no allocation per call). */
  readonly #attributes = new WeakMap<MethodSpec, Map<string, Attributes>>();

  constructor(meter: Meter = metrics.getMeter("@cairn-dev/cairn")) {
    this.#meter = meter;
    this.enabled = meter !== createNoopMeter();
    this.#calls = meter.createCounter("cairn.calls", { description: "Calls served, by state type, method and outcome" });
    this.#duration = meter.createHistogram("cairn.call.duration", { description: "Call latency", unit: "s" });
    this.#commits = meter.createCounter("cairn.store.commits", { description: "Store commits issued, by outcome" });
    this.#commitWrites = meter.createHistogram("cairn.store.commit.writes", {
      description: "Records written by one commit (states, idempotency records, tasks, memos, events)",
      valueType: ValueType.INT,
      advice: { explicitBucketBoundaries: [1, 2, 4, 8, 16, 32, 64, 128, 256] },
    });
    this.#gauges = [
      meter.createObservableGauge("cairn.tasks.queued", { description: "Due tasks waiting for a run slot", valueType: ValueType.INT }),
      meter.createObservableGauge("cairn.tasks.running", { description: "Task runs in progress", valueType: ValueType.INT }),
      meter.createObservableGauge("cairn.tasks.suspended", { description: "Tasks suspended in until", valueType: ValueType.INT }),
    ];
  }

  /** One call ended after `seconds` with `outcome` (see `outcomeName`). */
  call(method: MethodSpec, typeName: string, outcome: string, seconds: number): void {
    const attributes = this.#attributesOf(method, typeName, outcome);
    this.#calls.add(1, attributes);
    this.#duration.record(seconds, attributes);
  }

  #attributesOf(method: MethodSpec, typeName: string, outcome: string): Attributes {
    let byOutcome = this.#attributes.get(method);
    if (!byOutcome) this.#attributes.set(method, (byOutcome = new Map()));
    let attributes = byOutcome.get(outcome);
    if (!attributes) {
      attributes = { "cairn.state_type": typeName, "cairn.method": method.name, "cairn.method_kind": method.kind, "cairn.outcome": outcome };
      byOutcome.set(outcome, attributes);
    }
    return attributes;
  }

  /** A commit was issued; `ok` false if the store refused it. */
  commit(batch: CommitBatch, ok: boolean): void {
    this.#commits.add(1, ok ? OK : REFUSED);
    if (!ok) return;
    const writes =
      batch.states.length + batch.idempotency.length + (batch.tasks?.length ?? 0) + (batch.memos?.length ?? 0) +
      (batch.events?.length ?? 0) + (batch.progress?.length ?? 0) + (batch.schedules?.length ?? 0) + (batch.deletedSchedules?.length ?? 0);
    this.#commitWrites.record(writes);
  }

  /** Reports `load()` on the task gauges at each collection, until `stop`. */
  observeTasks(load: () => TaskLoad): void {
    const [queued, running, suspended] = this.#gauges as [ObservableGauge, ObservableGauge, ObservableGauge];
    this.#observe = (result) => {
      const now = load();
      result.observe(queued, now.queued);
      result.observe(running, now.running);
      result.observe(suspended, now.suspended);
    };
    this.#meter.addBatchObservableCallback(this.#observe, this.#gauges);
  }

  /** A stopped runtime reports no more (a process may start another). */
  stop(): void {
    if (this.#observe) this.#meter.removeBatchObservableCallback(this.#observe, this.#gauges);
    this.#observe = undefined;
  }
}

const OK: Attributes = { "cairn.outcome": "ok" };
const REFUSED: Attributes = { "cairn.outcome": "unavailable" };
