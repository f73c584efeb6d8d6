import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import type { Authorizer } from "./authorization.js";
import type { StateSpec } from "../api/spec.js";
import { checkRetryPolicy, type RetryPolicy } from "./tasks/retry-policy.js";
import type { Bound } from "./call.js";
import type { Logger } from "../api/logger.js";

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

/** One instance of each servicer with its rules, by state type; a second servicer for a state or a bad retry policy throws. */
export function bindServicers(servicers: readonly ServicerClass[], logger: Logger): Map<string, Bound> {
  const bound = new Map<string, Bound>();
  for (const S of servicers) {
    if (bound.has(S.spec.typeName)) throw new Error(`two servicers for ${S.spec.typeName}`);
    const servicer = new S() as { authorizer(): Bound["authorizer"] };
    const retry = (S as { retry?: Bound["retry"] }).retry;
    for (const [method, policy] of Object.entries(retry ?? {})) {
      checkRetryPolicy(policy, (what) => new Error(`${S.spec.typeName} retry.${method}.${what}`));
    }
    bound.set(S.spec.typeName, { spec: S.spec, servicer, authorizer: servicer.authorizer(), retry, logger: logger.child({ stateType: S.spec.typeName }) });
  }
  return bound;
}
