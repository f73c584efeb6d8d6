import type { DescMessage } from "@bufbuild/protobuf";
import type { StateSpec } from "./spec.js";

/**
 * Base of every generated `<State>Servicer`. Users extend the generated
 * class and implement one method per RPC; the runtime creates one instance
 * per application.
 */
export abstract class Servicer<S extends DescMessage = DescMessage> {
  /** Set by the generated subclass. */
  static readonly spec: StateSpec;
  /** Type-level link to the state message; never read at run time. */
  declare protected readonly __state?: S;
}

/** What `Application` accepts: a concrete servicer class. */
export interface ServicerClass {
  readonly spec: StateSpec;
  new (): Servicer;
}
