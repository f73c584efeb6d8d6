// `cairn/react`: React bindings over `cairn/web`. Browser-only imports.
//
//     <CairnProvider context={new WebContext()}>…</CairnProvider>
//
//     const { response, isLoading, error } = useReactive(Counter.ref("shared"), "value");
//     const ctx = useCairnContext();
//     await Counter.ref("shared").increment(ctx, { by: 1 }); // the hook already shows it
import { useContext, useMemo, useSyncExternalStore, type ReactNode } from "react";
import { CairnReactContext } from "./cairn-context.js";
import { toBinary, type Message } from "@bufbuild/protobuf";
import type { MayWatch } from "../api/capabilities.js";
import type { Ref } from "../api/ref.js";
import { LiveQuery, type LiveQueryOptions, type LiveSnapshot } from "../web/live-query.js";
import type { WebContext } from "../web/web-context.js";

export { useTask, type TaskSnapshot, type UseTaskOptions } from "./use-task.js";

/** Makes `context` the WebContext of the hooks below it. */
export function CairnProvider(props: { context: WebContext; children?: ReactNode }) {
  return <CairnReactContext.Provider value={props.context}>{props.children}</CairnReactContext.Provider>;
}

/** The WebContext from the nearest CairnProvider: make mutations through it. */
export function useCairnContext(): WebContext {
  const ctx = useContext(CairnReactContext);
  if (!ctx) throw new Error("useCairnContext: no <CairnProvider context={…}> above this component");
  return ctx;
}

/** The generated `<State>Reactive` of a ref (what `ref.reactively()` returns). */
type ReactiveOf<R> = R extends { reactively(signal?: AbortSignal): infer X } ? X : never;

/** The names of a ref's readers: the methods of its `reactively()`. */
export type ReaderName<R> = {
  [K in keyof ReactiveOf<R>]-?: ReactiveOf<R>[K] extends (ctx: MayWatch, request?: never) => AsyncIterable<unknown>
    ? K
    : never;
}[keyof ReactiveOf<R>] &
  string;

type ReaderOf<R, K extends ReaderName<R>> = ReactiveOf<R>[K] extends (ctx: MayWatch, request?: infer Q) => AsyncIterable<infer O>
  ? { request: Q; response: O }
  : never;

/** A reader's request init shape, e.g. `MessageInitShape<typeof BalanceRequestSchema>`. */
export type ReaderRequest<R, K extends ReaderName<R>> = ReaderOf<R, K>["request"];
/** A reader's response message, e.g. `BalanceResponse`. */
export type ReaderResponse<R, K extends ReaderName<R>> = ReaderOf<R, K>["response"];

export interface UseReactiveOptions extends LiveQueryOptions {
  /** A WebContext other than the provider's. */
  context?: WebContext;
}

export type ReactiveResult<M> = LiveSnapshot<M extends Message ? M : never>;

/**
 * A reader, live: `{ response, isLoading, error }`, re-rendered on each new
 * response. `response` stays until a newer one replaces it; `error` says why
 * the stream broke (it reconnects on its own).
 *
 * Read-your-writes: once a mutation made through the same WebContext
 * resolves, this hook shows a response computed after it, never an older
 * one (see LiveQuery).
 */
export function useReactive<R extends Ref & { reactively(signal?: AbortSignal): unknown }, K extends ReaderName<R>>(
  ref: R,
  reader: K,
  request?: ReaderRequest<R, K>,
  options: UseReactiveOptions = {},
): ReactiveResult<ReaderResponse<R, K>> {
  const provided = useContext(CairnReactContext);
  const ctx = options.context ?? provided;
  if (!ctx) throw new Error("useReactive: pass options.context or put a <CairnProvider> above this component");
  const invocation = ref.invocation(reader, request as never);
  // Same actor, reader and request bytes: the same query, whatever objects the caller passed.
  const key = [
    invocation.spec.typeName,
    invocation.actorId,
    invocation.method.name,
    toBinary(invocation.method.desc.input, invocation.request).join(","),
    options.retryMs,
    options.maxRetryMs,
    options.refreshTimeoutMs,
  ].join("\u0000");
  // eslint-disable-next-line react-hooks/exhaustive-deps -- `key` stands for invocation and options
  const query = useMemo(() => new LiveQuery(ctx, invocation, options), [ctx, key]);
  return useSyncExternalStore(query.subscribe, query.getSnapshot, query.getSnapshot) as ReactiveResult<
    ReaderResponse<R, K>
  >;
}
