import { create, type Message } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import { LockConflict } from "./actor-lock.js";
import type { Bound, Call } from "./call.js";
import { Aborted, CallError, internal, unimplemented } from "../api/errors.js";
import type { MethodSpec } from "../api/spec.js";

type Handler = (this: object, ...args: unknown[]) => Promise<unknown>;

/** The servicer's implementation of a method. */
export function handlerOf(bound: Bound, method: MethodSpec): (...args: unknown[]) => Promise<unknown> {
  const fn = servicerFunction(bound, method);
  return (...args) => fn.apply(bound.servicer, args);
}

/** The servicer's own function for a method, to call with the servicer as `this`. */
function servicerFunction(bound: Bound, method: MethodSpec): Handler {
  const fn = (bound.servicer as Record<string, Handler | undefined>)[method.name];
  if (typeof fn !== "function") {
    throw unimplemented(`${bound.servicer.constructor.name} does not implement ${method.name}`);
  }
  return fn;
}

/** Runs a reader, writer or transaction handler; its result becomes the response message. */
export async function runHandler(bound: Bound, call: Call, ctx: unknown, state: Message): Promise<Message> {
  // Called straight, not through handlerOf's wrapper: no closure and argument array per call.
  const fn = servicerFunction(bound, call.method);
  let result: unknown;
  try {
    result = await fn.call(bound.servicer, ctx, state, call.request);
  } catch (e) {
    throw classify(e, bound, call);
  }
  return create(call.method.desc.output, (result ?? {}) as Record<string, unknown>);
}

/** Runs a reader on the state it reads, once read (an actor a transaction prepared may need a question first: ActorStates.readState). */
export function runReader(bound: Bound, call: Call, ctx: unknown, state: Message | Promise<Message>): Promise<Message> {
  return state instanceof Promise ? state.then((s) => runHandler(bound, call, ctx, s)) : runHandler(bound, call, ctx, state);
}

/** What a handler threw, as the caller sees it (DESIGN.md §3). */
function classify(e: unknown, bound: Bound, call: Call): Error {
  const { spec } = bound;
  const { method } = call;
  const where = `${spec.service.typeName}.${method.desc.name}`;
  if (e instanceof Aborted) {
    const declared = method.errors.some((s) => s.typeName === e.error.$typeName);
    if (!declared) return internal(`${where} aborted with undeclared error ${e.error.$typeName}`);
    const Typed = method.aborted;
    const isTyped = !Typed || e instanceof Typed;
    return isTyped ? e : new Typed((e as Aborted).error as never, (e as Aborted).message);
  }
  // A refusal from a nested call, or a ConnectError the handler chose, keeps its code.
  if (e instanceof CallError || e instanceof ConnectError || e instanceof LockConflict) return e;
  bound.logger.error({ actorId: call.actorId, method: method.name, err: e }, `${where} threw`);
  // The cause lets a task that made this call see a misuse as fatal.
  return internal(`${where} failed: ${e instanceof Error ? e.message : String(e)}`, e);
}
