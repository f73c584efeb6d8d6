import type { DescMessage } from "@bufbuild/protobuf";

/**
 * A plan made once per message type and kept as long as the type is (a
 * WeakMap on its descriptor): the compiled encoder, copier and JSON reader
 * each keep one. `null` is a plan too (the type is left to protobuf-es).
 * While a type's plan is being made, `peek` and `of` give `null` for it,
 * so a type that contains itself does not plan itself forever.
 */
export class PerMessageType<P> {
  readonly #plans = new WeakMap<DescMessage, P | null>();

  constructor(private readonly make: (desc: DescMessage) => P | null) {}

  of(desc: DescMessage): P | null {
    let plan = this.#plans.get(desc);
    if (plan === undefined) {
      this.#plans.set(desc, null);
      plan = this.make(desc);
      this.#plans.set(desc, plan);
    }
    return plan;
  }

  /** The plan if one was made; undefined before. */
  peek(desc: DescMessage): P | null | undefined {
    return this.#plans.get(desc);
  }
}
