import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import type { Authorizer } from "./authorization.js";
import type { StateSpec } from "../api/spec.js";
import type { RetryPolicy } from "./tasks/retry-policy.js";

/**
 * Base of every generated `<State>Servicer`. Users extend the generated
 * class and implement one method per RPC; the runtime creates one instance
 * per application, shared by all actors of the state type. A state with
 * workflows gets `this.state` from its generated class (the workflow layer
 * sits above this one).
 */
export abstract class Servicer<S extends DescMessage = DescMessage> {
  /** Set by the generated subclass. */
  static readonly spec: StateSpec;
  /** Per workflow method: retry backoff overriding the application's. */
  static readonly retry?: Readonly<Record<string, Partial<RetryPolicy>>>;

  /**
   * Rules for external callers, per method. Without an authorizer every
   * external call is denied (unless the application runs in
   * `insecureDevelopmentMode`); calls from inside the application are
   * always allowed.
   */
  authorizer(): Authorizer<MessageShape<S>> | undefined {
    return undefined;
  }
}

/**
 * What `Application` accepts: a concrete servicer class. Its instance type
 * is left open because a `Servicer<S>` is invariant in S (authorizer
 * predicates take the state); the generated `spec` is what binds it.
 */
export interface ServicerClass {
  readonly spec: StateSpec;
  new (): object;
}
