// The browser's client context: the same Invoker contract as ExternalContext
// (src/runtime/external-context.ts), over `@connectrpc/connect-web` (fetch),
// with no Node-only import. Everything in src/web must stay that way: the
// page bundles it.
import { create, fromBinary, toBinary, type DescMethod, type Message } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { Reactive } from "../../generated/cairn/v1/reactive_pb.js";
import { Tasks, TaskStatus, WaitTaskRequestSchema, type TaskInfo } from "../../generated/cairn/v1/tasks_pb.js";
import type { Context } from "../runtime/context.js";
import { Aborted } from "../runtime/errors.js";
import { INVOKE, type Invocation, type Invoker } from "../runtime/invocation.js";
import type { MethodSpec } from "../runtime/spec.js";
import { ACTOR_ID_HEADER, IDEMPOTENCY_KEY_HEADER, SPAWN_HEADER, TASK_ID_HEADER } from "../transport/headers.js";
import { sha256, toBase64Url, toHex } from "./sha256.js";

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
  readonly #transport: Transport;
  readonly #options: WebContextOptions;
  readonly #afterWriteListeners = new Set<AfterWriteListener>();

  constructor(options: WebContextOptions = {}) {
    this.#options = options;
    const url = options.url ?? (globalThis as { location?: { origin?: string } }).location?.origin;
    if (!url) throw new Error("WebContext: no url given and no page origin (globalThis.location) to default to");
    this.url = url;
    this.idempotencySeed = options.idempotencySeed ?? randomHex(16);
    const common = { baseUrl: url, useBinaryFormat: true, fetch: options.fetch };
    this.#transport =
      options.transport === "grpc-web" ? createGrpcWebTransport(common) : createConnectTransport(common);
  }

  get [INVOKE](): Invoker {
    return {
      invoke: (inv) => this.#invokeAndRefresh(inv),
      spawn: (inv, timing) => {
        const key = this.#keyFor(inv);
        const taskId = key === undefined ? newTaskId() : taskIdForKey(key);
        const when = timing.when === undefined ? undefined : typeof timing.when === "number" ? timing.when : timing.when.getTime();
        return { taskId, started: this.#spawn(inv, when, taskId, key) };
      },
      schedule: (inv) => {
        throw new Error(`schedule ${inv.method.name} from a writer; browser callers use .spawn({ when })`);
      },
      wait: (taskId, method) => this.#waitAndRefresh(taskId, method),
      watch: (inv, signal) => this.#watch(inv, signal),
    };
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
    if (inv.method.kind === "reader") return (await this.#invoke(inv)).message;
    let reply;
    try {
      reply = await this.#invoke(inv);
    } catch (e) {
      // A declared error committed nothing. Any other failure may have
      // committed (the reply was lost): refresh, but don't hold the error.
      if (!(e instanceof Aborted)) void this.#afterWrite();
      throw e;
    }
    await this.#afterWrite();
    return reply.message;
  }

  async #waitAndRefresh(taskId: string, method: MethodSpec): Promise<Message> {
    const info = await this.#unary(Tasks.method.wait, create(WaitTaskRequestSchema, { taskId }), this.#authHeader());
    const task = info.message as TaskInfo;
    // The task ended (however): what it wrote is committed; show it before returning.
    await this.#afterWrite();
    return fromTaskInfo(task, method);
  }

  async #afterWrite(): Promise<void> {
    await Promise.allSettled([...this.#afterWriteListeners].map(async (listener) => listener()));
  }

  async #spawn(inv: Invocation, runAt: number | undefined, taskId: string, key: string | undefined): Promise<void> {
    const header = this.#callHeader(inv, key);
    header.set(SPAWN_HEADER, runAt === undefined ? "now" : String(runAt));
    header.set(TASK_ID_HEADER, taskId);
    try {
      await this.#unary(inv.method.desc, inv.request, header);
    } catch (e) {
      throw typedError(e, inv.method);
    }
  }

  async *#watch(inv: Invocation, signal: AbortSignal | undefined): AsyncGenerator<Message, void, undefined> {
    const stream = createClient(Reactive, this.#transport).watch(
      {
        stateType: inv.spec.typeName,
        actorId: inv.actorId,
        method: inv.method.name,
        request: toBinary(inv.method.desc.input, inv.request),
      },
      { headers: this.#authHeader(), signal },
    );
    for await (const { response } of stream) yield fromBinary(inv.method.desc.output, response);
  }

  async #invoke(inv: Invocation) {
    try {
      return await this.#unary(inv.method.desc, inv.request, this.#callHeader(inv, this.#keyFor(inv)));
    } catch (e) {
      throw typedError(e, inv.method);
    }
  }

  #callHeader(inv: Invocation, key: string | undefined): Headers {
    const header = this.#authHeader();
    header.set(ACTOR_ID_HEADER, inv.actorId);
    if (key !== undefined) header.set(IDEMPOTENCY_KEY_HEADER, key);
    return header;
  }

  #authHeader(): Headers {
    const header = new Headers();
    if (this.#options.bearerToken) header.set("authorization", `Bearer ${this.#options.bearerToken}`);
    return header;
  }

  #unary(desc: DescMethod, request: Message, header: Headers) {
    return this.#transport.unary(desc as never, undefined, this.#options.timeoutMs, header, request as never);
  }

  #keyFor(inv: Invocation): string | undefined {
    switch (inv.idempotency.kind) {
      case "key":
        return inv.idempotency.key;
      case "alias":
        return deriveKey(this.idempotencySeed, inv.spec.typeName, inv.actorId, inv.method.name, inv.idempotency.alias);
      default:
        return undefined;
    }
  }
}

// The next three match src/runtime/idempotency.ts and tasks/task-record.ts
// byte for byte (test/web.test.ts checks), without node:crypto.

/** The key `ref.idempotently(alias)` sends. */
export function deriveKey(seed: string, stateType: string, actorId: string, method: string, alias: string): string {
  return toBase64Url(sha256(JSON.stringify([seed, stateType, actorId, method, alias])));
}

/** A spawn with an idempotency key always names the same task. */
export function taskIdForKey(key: string): string {
  return `k-${toHex(sha256(key)).slice(0, 32)}`;
}

function newTaskId(now = Date.now()): string {
  return `${now.toString(36).padStart(10, "0")}-${randomHex(6)}`;
}

function randomHex(bytes: number): string {
  return toHex(globalThis.crypto.getRandomValues(new Uint8Array(bytes)));
}

/** A task's outcome as a typed response, or its typed error thrown. */
function fromTaskInfo(info: TaskInfo, method: MethodSpec): Message {
  if (info.status === TaskStatus.COMPLETED) return fromBinary(method.desc.output, info.response);
  const declared = info.error && method.errors.find((d) => d.typeName === info.error!.typeName);
  if (info.status === TaskStatus.ABORTED && info.error && declared) {
    const AbortedClass = method.aborted ?? Aborted;
    throw new AbortedClass(fromBinary(declared, info.error.value) as never, info.error.message);
  }
  throw new ConnectError(`task ${info.taskId} failed: ${info.lastError}`, Code.Internal);
}

/** An ABORTED reply carrying a declared error becomes the method's `…Aborted`. */
function typedError(e: unknown, method: MethodSpec): unknown {
  const err = ConnectError.from(e);
  if (err.code !== Code.Aborted || !method.aborted) return err;
  for (const desc of method.errors) {
    const [detail] = err.findDetails(desc);
    if (detail) return new method.aborted(detail as never, err.rawMessage);
  }
  return err;
}
