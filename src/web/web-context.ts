// The browser's client context: the same Invoker contract as ExternalContext
// (src/client/external-context.ts), over `@connectrpc/connect-web` (fetch),
// with no Node-only import. Everything in src/web must stay that way: the
// page bundles it.
import type { DescService, Message } from "@bufbuild/protobuf";
import { createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import type { Context } from "../api/context.js";
import { Aborted } from "../api/errors.js";
import { INVOKE, type Invocation, type Invoker } from "../api/invocation.js";
import type { MethodSpec } from "../api/spec.js";
import { RemoteCalls } from "../client/remote-calls.js";
import { callKeys, randomHex } from "../api/call-keys.js";
import { sha256 } from "../api/sha256.js";
import { abortableFetch } from "./abortable-fetch.js";

export interface WebContextOptions {
  /**
   * The application's URL, e.g. "http://127.0.0.1:9991". Default: the
   * page's own origin (the application serves the page; no CORS needed).
   */
  url?: string;
  /** Wire protocol over fetch. Default "connect". */
  transport?: "connect" | "grpc-web";
  /** Sent as `authorization: Bearer …` on every call. */
  bearerToken?: string;
  /** Seed for `ref.idempotently(alias)` keys; random unless given. */
  idempotencySeed?: string;
  /** Per-call deadline in milliseconds (not applied to watches). */
  timeoutMs?: number;
  /** A fetch to use instead of the global one (e.g. to set `credentials`). */
  fetch?: typeof globalThis.fetch;
}

/**
 * Runs after a mutation made through this context has committed; the
 * mutation's promise resolves only once every such listener has settled.
 * Live queries (`LiveQuery`, `useReactive`) use it for read-your-writes.
 */
export type AfterWriteListener = () => Promise<void> | void;

/**
 * The context of a browser page: every ref call travels over `fetch` to the
 * application. Pass it where a ref method wants a context:
 *
 *     const ctx = new WebContext();
 *     await Counter.ref("shared").increment(ctx, { by: 1 });
 */
export class WebContext implements Context {
  readonly kind = "external" as const;
  readonly idempotencySeed: string;
  readonly url: string;
  readonly #calls: RemoteCalls;
  readonly #transport: Transport;
  readonly #afterWriteListeners = new Set<AfterWriteListener>();

  constructor(options: WebContextOptions = {}) {
    const url = options.url ?? (globalThis as { location?: { origin?: string } }).location?.origin;
    if (!url) throw new Error("WebContext: no url given and no page origin (globalThis.location) to default to");
    this.url = url;
    this.idempotencySeed = options.idempotencySeed ?? randomHex(16);
    // Every request this context makes goes through abortableFetch: see there why.
    const common = { baseUrl: url, useBinaryFormat: true, fetch: abortableFetch(options.fetch), interceptors: [withToken(options.bearerToken)] };
    const transport =
      options.transport === "grpc-web" ? createGrpcWebTransport(common) : createConnectTransport(common);
    this.#transport = transport;
    this.#calls = new RemoteCalls(
      transport,
      { idempotencySeed: this.idempotencySeed, bearerToken: options.bearerToken, timeoutMs: options.timeoutMs },
      callKeys(sha256),
    );
  }

  get [INVOKE](): Invoker {
    const calls = this.#calls;
    return {
      invoke: (inv) => this.#invokeAndRefresh(inv),
      spawn: (inv, timing) => calls.spawn(inv, timing),
      schedule: (inv) => calls.schedule(inv),
      wait: (taskId, method) => this.#waitAndRefresh(taskId, method),
      control: (taskId, action) => calls.control(taskId, action),
      watch: (inv, signal) => calls.watch(inv, signal),
    };
  }

  /**
   * A connect client of any service the application serves (the framework's
   * `cairn.v1.Tasks`, `Actors`, `Schedules`…), over this context's
   * transport and with its bearer token:
   *
   *     for await (const info of ctx.client(Tasks).watch({ taskId })) …
   */
  client<S extends DescService>(service: S): Client<S> {
    return createClient(service, this.#transport);
  }

  /**
   * Calls `listener` after each mutation (writer, transaction, workflow,
   * awaited task) made through this context commits, and holds the
   * mutation's promise until it settles. Returns the unsubscribe function.
   */
  onAfterWrite(listener: AfterWriteListener): () => void {
    this.#afterWriteListeners.add(listener);
    return () => void this.#afterWriteListeners.delete(listener);
  }

  async #invokeAndRefresh(inv: Invocation): Promise<Message> {
    if (inv.method.kind === "reader") return this.#calls.invoke(inv);
    let reply: Message;
    try {
      reply = await this.#calls.invoke(inv);
    } catch (e) {
      // A declared error committed nothing. Any other failure may have
      // committed (the reply was lost): refresh, but don't hold the error.
      if (!(e instanceof Aborted)) void this.#afterWrite();
      throw e;
    }
    await this.#afterWrite();
    return reply;
  }

  async #waitAndRefresh(taskId: string, method: MethodSpec): Promise<Message> {
    try {
      return await this.#calls.wait(taskId, method);
    } finally {
      // The task ended (however): what it wrote is committed; show it first.
      await this.#afterWrite();
    }
  }

  async #afterWrite(): Promise<void> {
    await Promise.allSettled([...this.#afterWriteListeners].map(async (listener) => listener()));
  }
}

/** Sets `authorization: Bearer …` on each request that has none (ref calls set their own). */
function withToken(token: string | undefined): Interceptor {
  return (next) => (req) => {
    if (token && !req.header.has("authorization")) req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
}
