import { fromBinary } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import type { TaskRecord } from "../store/store.js";
import { enforce, type Claims, type TokenVerifier } from "./authorization.js";
import type { Bound, Call, Caller } from "./call.js";
import type { Snapshot } from "./actor-cache.js";
import { CallError, failedPrecondition, permissionDenied, unauthenticated } from "../api/errors.js";
import type { StateSpec } from "../api/spec.js";

export interface GatekeeperOptions {
  /** Verifies external callers' bearer tokens into claims. */
  readonly tokenVerifier?: TokenVerifier;
  /** Allows external calls to servicers without an authorizer. Never in production. */
  readonly insecureDevelopmentMode?: boolean;
}

/**
 * Who may call what (DESIGN.md §7): verifies bearer tokens into claims, and
 * asks the servicer's authorizer about each external call, loading the
 * actor's state (through the one actor-state path) for `allowIf` rules.
 */
export class Gatekeeper {
  constructor(
    private readonly options: GatekeeperOptions,
    private readonly bound: (typeName: string) => Bound,
    /** What readers see of an actor (ActorStates.visibleOf: a promise when a prepared one needs a question first). */
    private readonly visibleOf: (spec: StateSpec, actorId: string) => Snapshot | null | Promise<Snapshot | null>,
  ) {}

  /** The verified claims of a caller's token; UNAUTHENTICATED if it is not valid. */
  async claimsOf(caller: Caller): Promise<Claims | undefined> {
    const verifier = this.options.tokenVerifier;
    if (caller.bearerToken === undefined || !verifier) return undefined;
    const claims = await Promise.resolve()
      .then(() => verifier(caller.bearerToken!))
      // A verifier's own refusal says why (expired, wrong audience, JWKS down…).
      .catch((e: unknown) => {
        if (e instanceof CallError || e instanceof ConnectError) throw e;
        return undefined;
      });
    if (!claims) throw unauthenticated("the bearer token is not valid");
    return claims;
  }

  /**
   * Operator calls (listing every task): for tokens whose claims say
   * `cairn_admin: true`, or anyone in insecure development mode.
   */
  async authorizeAdmin(caller: Caller): Promise<void> {
    if (caller.internal || this.options.insecureDevelopmentMode) return;
    const claims = await this.claimsOf(caller);
    if (claims?.cairn_admin === true) return;
    if (!claims) throw unauthenticated("operator calls need a bearer token with cairn_admin: true");
    throw permissionDenied("operator calls need cairn_admin: true in the token's claims");
  }

  /**
   * Whether a call is allowed with nothing to verify or load: internal, or
   * without a token to a method whose rule is `allow`. Lets the hot path
   * skip `authorize`'s promises; `authorize` decides the same.
   */
  allowsAtOnce(bound: Bound, call: Call, caller: Caller): boolean {
    if (caller.internal) return true;
    if (caller.bearerToken !== undefined && this.options.tokenVerifier) return false;
    return bound.authorizer?.ruleFor(call.method.name).kind === "allow";
  }

  /** External calls only: the servicer's authorizer decides. */
  async authorize(bound: Bound, call: Call, caller: Caller, claims?: Claims): Promise<void> {
    if (caller.internal) return;
    claims ??= await this.claimsOf(caller);
    const context = { internal: false, claims, stateType: bound.spec.typeName, actorId: call.actorId, method: call.method.name };
    if (!bound.authorizer) {
      if (this.options.insecureDevelopmentMode) return;
      throw permissionDenied(
        `${bound.spec.typeName} has no authorizer, so external calls are denied: override authorizer() ` +
          `in its servicer (or start the Application with insecureDevelopmentMode, for development only)`,
      );
    }
    const rule = bound.authorizer.ruleFor(call.method.name);
    let visible = rule.kind === "allowIf" ? this.visibleOf(bound.spec, call.actorId) : undefined;
    if (visible instanceof Promise) visible = await visible;
    await enforce(rule, { context, state: visible?.state, request: call.request });
  }

  /**
   * Who may see a task's status, progress and result (Tasks.Get, Wait,
   * Watch): operators, and callers its method's authorizer lets call that
   * method on that actor with that request now. Knowing an id is not enough:
   * a keyed task's id follows from its key, which may be guessable.
   */
  async authorizeTaskRead(task: TaskRecord, caller: Caller): Promise<void> {
    if (caller.internal) return;
    const claims = await this.claimsOf(caller);
    if (claims?.cairn_admin === true) return;
    const bound = this.bound(task.stateType);
    const method = Object.values(bound.spec.methods).find((m) => m.name === task.method);
    if (!method) throw failedPrecondition(`${task.stateType} no longer has the method ${task.method} of task ${task.taskId}`);
    const call: Call = { spec: bound.spec, method, actorId: task.actorId, request: fromBinary(method.desc.input, task.request) };
    await this.authorize(bound, call, caller, claims);
  }
}
