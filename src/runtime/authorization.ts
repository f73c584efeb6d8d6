import type { Message } from "@bufbuild/protobuf";
import { permissionDenied, unauthenticated } from "../api/errors.js";

/** What a verified bearer token says about its holder. */
export type Claims = Readonly<Record<string, unknown>>;

/**
 * Checks a bearer token (an HMAC, a JWT…) and returns its claims, or
 * undefined (or throws) if it is not valid. Predicates only ever see claims
 * a verifier returned, never the raw token.
 */
export type TokenVerifier = (token: string) => Claims | undefined | Promise<Claims | undefined>;

/** Who is asking, as a predicate sees it. */
export interface AuthorizationContext {
  /** True for calls made from inside this application. */
  readonly internal: boolean;
  /** The verified claims of the caller's token; undefined without one. */
  readonly claims: Claims | undefined;
  readonly stateType: string;
  readonly actorId: string;
  readonly method: string;
}

export interface PredicateInput<S extends Message> {
  readonly context: AuthorizationContext;
  /** The actor's last committed state; undefined if it does not exist yet. */
  readonly state: Readonly<S> | undefined;
  readonly request: Message;
}

export type Predicate<S extends Message> = (input: PredicateInput<S>) => boolean | Promise<boolean>;

export type Rule<S extends Message> =
  | { readonly kind: "allow" }
  | { readonly kind: "deny" }
  | { readonly kind: "allowIf"; readonly all: readonly Predicate<S>[]; readonly any: readonly Predicate<S>[] };

export function allow<S extends Message = Message>(): Rule<S> {
  return { kind: "allow" };
}

export function deny<S extends Message = Message>(): Rule<S> {
  return { kind: "deny" };
}

/** Allows when every `all` predicate holds and, if `any` is given, at least one of `any`. */
export function allowIf<S extends Message>(
  predicates: { all: readonly Predicate<S>[]; any?: undefined } | { any: readonly Predicate<S>[]; all?: undefined },
): Rule<S> {
  return { kind: "allowIf", all: predicates.all ?? [], any: predicates.any ?? [] };
}

/** Handy predicate: the caller presented a valid token. */
export const isAuthenticated: Predicate<Message> = ({ context }) => context.claims !== undefined;

/**
 * A servicer's rules for external callers: one per method (by local name,
 * e.g. `withdraw`), and a default for the rest (deny unless given).
 */
export class Authorizer<S extends Message = Message> {
  constructor(
    readonly rules: {
      readonly methods?: Readonly<Record<string, Rule<S>>>;
      readonly default?: Rule<S>;
    },
  ) {}

  ruleFor(method: string): Rule<S> {
    return this.rules.methods?.[method] ?? this.rules.default ?? deny();
  }
}

/** Evaluates a rule; rejects with PERMISSION_DENIED or UNAUTHENTICATED. */
export async function enforce<S extends Message>(rule: Rule<S>, input: PredicateInput<S>): Promise<void> {
  let allowed: boolean;
  if (rule.kind === "allow") allowed = true;
  else if (rule.kind === "deny") allowed = false;
  else {
    allowed = true;
    for (const p of rule.all) if (!(await p(input))) allowed = false;
    if (allowed && rule.any.length > 0) {
      allowed = false;
      for (const p of rule.any) if (await p(input)) allowed = true;
    }
  }
  if (allowed) return;
  const { context } = input;
  const what = `${context.stateType}.${context.method} on ${JSON.stringify(context.actorId)}`;
  if (context.claims === undefined) {
    throw unauthenticated(`${what} needs a valid bearer token`);
  }
  throw permissionDenied(`${what} is not allowed for this caller`);
}
