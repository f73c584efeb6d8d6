import { create, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import type { Context } from "./context.js";
import { INVOKE, type IdempotencyChoice } from "./invocation.js";
import type { StateSpec } from "./spec.js";

/**
 * A typed handle on one actor. Generated `<State>Ref` classes add one method
 * per RPC; modifiers return a new ref and never change this one.
 */
export class Ref<S extends DescMessage = DescMessage> {
  readonly #idempotency: IdempotencyChoice;

  constructor(
    readonly spec: StateSpec<S>,
    readonly id: string,
    idempotency: IdempotencyChoice = { kind: "unset" },
  ) {
    this.#idempotency = idempotency;
  }

  /**
   * Calls through the returned ref carry an idempotency key: derived from the
   * context's seed, the target and `alias`, or `{ key }` used as is.
   */
  idempotently(aliasOrKey: string | { key: string } = ""): this {
    return this.#with(
      typeof aliasOrKey === "string"
        ? { kind: "alias", alias: aliasOrKey }
        : { kind: "key", key: aliasOrKey.key },
    );
  }

  /** Calls through the returned ref carry no idempotency key, on purpose. */
  unidempotently(): this {
    return this.#with({ kind: "none" });
  }

  protected call<O extends DescMessage>(
    method: string,
    ctx: Context,
    request: MessageInitShape<DescMessage> | undefined,
  ): Promise<MessageShape<O>> {
    const spec = this.spec.methods[method];
    if (!spec) throw new Error(`${this.spec.typeName} has no method ${method}`);
    return ctx[INVOKE].invoke({
      spec: this.spec,
      method: spec,
      actorId: this.id,
      request: create(spec.desc.input, request ?? {}),
      idempotency: this.#idempotency,
    }) as Promise<MessageShape<O>>;
  }

  #with(idempotency: IdempotencyChoice): this {
    const Ctor = this.constructor as new (spec: StateSpec<S>, id: string, i: IdempotencyChoice) => this;
    return new Ctor(this.spec, this.id, idempotency);
  }
}
