import { randomUUID } from "node:crypto";
import { create, fromBinary, toBinary, type DescMethod, type Message } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { Reactive } from "../../generated/cairn/v1/reactive_pb.js";
import { Tasks, TaskStatus, WaitTaskRequestSchema, type TaskInfo } from "../../generated/cairn/v1/tasks_pb.js";
import { Code, ConnectError } from "@connectrpc/connect";
import { createClientTransport, type ClientTransport, type TransportKind } from "../transport/client-transport.js";
import { ACTOR_ID_HEADER, IDEMPOTENCY_KEY_HEADER, SPAWN_HEADER, TASK_ID_HEADER } from "../transport/headers.js";
import { Aborted } from "./errors.js";
import { taskIdFor, toMillis } from "./tasks/task-record.js";
import type { Context } from "./context.js";
import { deriveKey } from "./idempotency.js";
import { INVOKE, type Invocation, type Invoker } from "./invocation.js";
import type { MethodSpec } from "./spec.js";

export type { TransportKind };

export interface ExternalContextOptions {
  /** The application's URL, e.g. "http://127.0.0.1:9991". */
  url: string;
  /** Wire protocol; all run over HTTP/2. Default "connect". */
  transport?: TransportKind;
  /** Sent as `authorization: Bearer …` on every call. */
  bearerToken?: string;
  /** Seed for `ref.idempotently(alias)` keys; random unless given. */
  idempotencySeed?: string;
  /** Per-call deadline in milliseconds. */
  timeoutMs?: number;
}

/**
 * The context of a caller outside the application: every ref call travels
 * over the network. Give the same `idempotencySeed` to a retried process and
 * its `idempotently(alias)` calls replay instead of running again.
 */
export class ExternalContext implements Context {
  readonly kind = "external" as const;
  readonly idempotencySeed: string;
  readonly #client: ClientTransport;
  readonly #options: ExternalContextOptions;

  constructor(options: ExternalContextOptions) {
    this.#options = options;
    this.idempotencySeed = options.idempotencySeed ?? randomUUID();
    this.#client = createClientTransport(options.url, options.transport ?? "connect");
  }

  get [INVOKE](): Invoker {
    return {
      invoke: (inv) => this.#invoke(inv).then((r) => r.message),
      spawn: (inv, timing) => {
        const key = this.#keyFor(inv);
        const taskId = taskIdFor(key);
        return { taskId, started: this.#spawn(inv, toMillis(timing.when), taskId, key) };
      },
      schedule: (inv) => {
        throw new Error(`schedule ${inv.method.name} from a writer; external callers use .spawn({ when })`);
      },
      wait: (taskId, method) => this.#wait(taskId, method),
      watch: (inv, signal) => this.#watch(inv, signal),
    };
  }

  /** Closes the connection; calls after this fail. */
  close(): void {
    this.#client.close();
  }

  async #spawn(inv: Invocation, runAt: number | undefined, taskId: string, key: string | undefined): Promise<void> {
    const spawn = { when: runAt === undefined ? "now" : String(runAt), taskId };
    await this.#invoke(inv, spawn, key);
  }

  async #wait(taskId: string, method: MethodSpec): Promise<Message> {
    const info = await this.#unary(Tasks.method.wait, create(WaitTaskRequestSchema, { taskId }), new Headers());
    return fromTaskInfo(info.message as TaskInfo, method);
  }

  async *#watch(inv: Invocation, signal: AbortSignal | undefined): AsyncGenerator<Message, void, undefined> {
    // connect-es streams ignore return(): only aborting cancels the HTTP/2
    // stream, so `break` must abort it here.
    const ac = new AbortController();
    const onAbort = () => ac.abort(signal?.reason);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
    const stream = createClient(Reactive, this.#client.transport).watch(
      {
        stateType: inv.spec.typeName,
        actorId: inv.actorId,
        method: inv.method.name,
        request: toBinary(inv.method.desc.input, inv.request),
      },
      { headers: this.#authHeader(), signal: ac.signal },
    );
    // Read eagerly and keep only the newest response: a slow consumer gets
    // the latest state on its next pull, not a backlog buffered by HTTP/2.
    let latest: Uint8Array | undefined;
    let ended = false;
    let failure: unknown;
    let wake: (() => void) | undefined;
    const pump = (async () => {
      try {
        for await (const { response } of stream) {
          latest = response;
          wake?.();
        }
      } catch (e) {
        failure = e;
      } finally {
        ended = true;
        wake?.();
      }
    })();
    try {
      for (;;) {
        while (latest === undefined && !ended) await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        if (latest !== undefined) {
          const bytes = latest;
          latest = undefined;
          yield fromBinary(inv.method.desc.output, bytes);
          continue;
        }
        if (failure !== undefined) throw failure;
        return;
      }
    } finally {
      signal?.removeEventListener("abort", onAbort);
      ac.abort();
      await pump;
    }
  }

  #authHeader(): Headers {
    const header = new Headers();
    if (this.#options.bearerToken) header.set("authorization", `Bearer ${this.#options.bearerToken}`);
    return header;
  }

  #unary(desc: DescMethod, request: Message, header: Headers) {
    return this.#client.transport.unary(desc as never, undefined, this.#options.timeoutMs, header, request as never);
  }

  async #invoke(inv: Invocation, spawn?: { when: string; taskId: string }, key = this.#keyFor(inv)) {
    const header = this.#authHeader();
    header.set(ACTOR_ID_HEADER, inv.actorId);
    if (spawn) {
      header.set(SPAWN_HEADER, spawn.when);
      header.set(TASK_ID_HEADER, spawn.taskId);
    }
    if (key !== undefined) header.set(IDEMPOTENCY_KEY_HEADER, key);
    try {
      return await this.#unary(inv.method.desc, inv.request, header);
    } catch (e) {
      throw typedError(e, inv.method);
    }
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
