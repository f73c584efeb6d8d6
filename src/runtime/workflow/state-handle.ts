import type { Message } from "@bufbuild/protobuf";
import type { WorkflowContext } from "../context.js";
import type { IdempotencyChoice } from "../../api/invocation.js";
import type { StateSpec } from "../../api/spec.js";
import { parseJson, stringifyJson } from "./memo-codec.js";
import { checkpointOf } from "./step-skeleton.js";
import { workflowRun } from "./workflow-context.js";

/** An inline writer bound to an idempotency choice. */
export interface StateWriter<S extends Message> {
  write<R>(ctx: WorkflowContext, fn: (state: S) => R | Promise<R>): Promise<R>;
}

/**
 * `this.state` inside a workflow: its own actor's state. `read` returns the
 * last durable snapshot (watched inside `until`); `write` runs `fn` as an
 * inline writer, atomic with respect to every other writer of the actor.
 */
export class WorkflowState<S extends Message> {
  constructor(private readonly spec: StateSpec) {}

  async read(ctx: WorkflowContext): Promise<Readonly<S>> {
    return (await workflowRun(ctx, "state.read").runtime.readState(this.spec, ctx.actorId)) as S;
  }

  /** Applies `fn` once per alias (per Loop iteration), however often the workflow re-runs. */
  write<R>(alias: string, ctx: WorkflowContext, fn: (state: S) => R | Promise<R>): Promise<R> {
    return this.#write({ kind: "alias", alias }, ctx, fn);
  }

  idempotently(alias = ""): StateWriter<S> {
    return { write: (ctx, fn) => this.#write({ kind: "alias", alias }, ctx, fn) };
  }

  /** Applies `fn` on every run of the workflow. */
  unidempotently(): StateWriter<S> {
    return { write: (ctx, fn) => this.#write({ kind: "none" }, ctx, fn) };
  }

  async #write<R>(choice: IdempotencyChoice, ctx: WorkflowContext, fn: (state: S) => R | Promise<R>): Promise<R> {
    const run = workflowRun(ctx, "state.write");
    await checkpointOf(run);
    const key = run.keyFor(this.spec.typeName, ctx.actorId, "state.write", choice);
    run.reachCall(key);
    let bytes = new Uint8Array();
    return run.runtime.mutate<R>(
      this.spec,
      ctx.actorId,
      {
        method: "state.write",
        isConstructor: false,
        requestBytes: () => new Uint8Array(),
        errors: [],
        // Encoded on every write, keyed or not: a result JSON cannot carry fails the write either way.
        apply: async (draft) => {
          const value = await fn(draft as S);
          bytes = Buffer.from(stringifyJson(value));
          return value;
        },
        encode: () => bytes,
        decode: (bytes) => parseJson(Buffer.from(bytes).toString("utf8")) as R,
      },
      key,
      { taskId: run.taskId, iteration: run.iteration },
    );
  }
}
