// Calls over the network, as both client contexts make them: the Node
// ExternalContext and the browser's WebContext differ only in transport and
// in how they hash (node:crypto or a bundled SHA-256). Nothing here may
// import a Node-only module: the browser bundles it (src/web reuses it).
import { create, fromBinary, toBinary, type DescMethod, type Message } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { Reactive } from "../../generated/cairn/v1/reactive_pb.js";
import { CancelTaskRequestSchema, Tasks, TaskStatus, WaitTaskRequestSchema, type TaskInfo } from "../../generated/cairn/v1/tasks_pb.js";
import { newTaskId, type CallKeys } from "../api/call-keys.js";
import { Aborted, CallError } from "../api/errors.js";
import { toWireError } from "../api/wire-error.js";
import type { Invocation, Invoker, TaskControl, TaskTiming } from "../api/invocation.js";
import type { MethodSpec } from "../api/spec.js";
import { validateActorId } from "../api/actor-id.js";
import { encodeActorIdHeader } from "../api/actor-id-header.js";
import { injectTraceContext } from "../api/trace-context.js";
import { ACTOR_ID_HEADER, IDEMPOTENCY_KEY_HEADER, SPAWN_HEADER, TASK_ID_HEADER } from "../api/headers.js";

export interface RemoteCallsOptions {
  readonly idempotencySeed: string;
  readonly bearerToken?: string;
  /** Per-call deadline in milliseconds (not applied to watches). */
  readonly timeoutMs?: number;
}

/** An Invoker that sends every call to an application over `transport`. */
export class RemoteCalls implements Invoker {
  constructor(
    private readonly transport: Transport,
    private readonly options: RemoteCallsOptions,
    private readonly keys: CallKeys,
  ) {}

  async invoke(inv: Invocation): Promise<Message> {
    return (await this.#call(inv, this.keyFor(inv))).message as Message;
  }

  spawn(inv: Invocation, timing: TaskTiming): { taskId: string; started: Promise<void> } {
    const key = this.keyFor(inv);
    // A client has no runtime clock: fresh ids sort by its own time.
    const taskId = key === undefined ? newTaskId(Date.now()) : this.keys.taskIdForKey(key);
    const when = timing.when === undefined ? "now" : String(typeof timing.when === "number" ? timing.when : timing.when.getTime());
    return { taskId, started: this.#call(inv, key, { when, taskId }).then(() => undefined) };
  }

  schedule(inv: Invocation): string {
    throw new Error(`schedule ${inv.method.name} from a writer; external callers use .spawn({ when })`);
  }

  async wait(taskId: string, method: MethodSpec): Promise<Message> {
    const info = await this.#unary(Tasks.method.wait, create(WaitTaskRequestSchema, { taskId }), this.#authHeader());
    return fromTaskInfo(info.message as TaskInfo, method);
  }

  async control(taskId: string, action: TaskControl): Promise<void> {
    // Cancel, Pause and Resume requests all carry just the task id.
    const method = Tasks.method[action];
    await this.#unary(method, create(method.input as typeof CancelTaskRequestSchema, { taskId }), this.#authHeader());
  }

  /**
   * connect-es streams ignore `return()`: only aborting cancels the stream,
   * so `break` aborts it here. The stream is read eagerly into one slot, so
   * a slow consumer gets the newest response on its next pull, not a
   * backlog buffered by HTTP/2.
   */
  async *watch(inv: Invocation, signal?: AbortSignal): AsyncGenerator<Message, void, undefined> {
    // The id travels in the body here: checked before it is encoded, which would mend a lone surrogate silently.
    try {
      validateActorId(inv.actorId);
    } catch (e) {
      throw toWireError(e);
    }
    const ac = new AbortController();
    const onAbort = () => ac.abort(signal?.reason);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
    const stream = createClient(Reactive, this.transport).watch(
      {
        stateType: inv.spec.typeName,
        actorId: inv.actorId,
        method: inv.method.name,
        request: toBinary(inv.method.desc.input, inv.request),
      },
      { headers: this.#authHeader(), signal: ac.signal },
    );
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

  keyFor(inv: Invocation): string | undefined {
    switch (inv.idempotency.kind) {
      case "key":
        return inv.idempotency.key;
      case "alias": {
        const { spec, actorId, method } = inv;
        return this.keys.deriveKey(this.options.idempotencySeed, spec.typeName, actorId, method.name, inv.idempotency.alias);
      }
      default:
        return undefined;
    }
  }

  async #call(inv: Invocation, key: string | undefined, spawn?: { when: string; taskId: string }) {
    try {
      const header = this.#authHeader();
      header.set(ACTOR_ID_HEADER, encodeActorIdHeader(inv.actorId));
      if (key !== undefined) header.set(IDEMPOTENCY_KEY_HEADER, key);
      if (spawn) {
        header.set(SPAWN_HEADER, spawn.when);
        header.set(TASK_ID_HEADER, spawn.taskId);
      }
      return await this.#unary(inv.method.desc, inv.request, header);
    } catch (e) {
      throw typedError(e, inv.method);
    }
  }

  /** Headers every request carries: the token, and the active trace context (continued by the server's span). */
  #authHeader(): Headers {
    const header = new Headers();
    if (this.options.bearerToken) header.set("authorization", `Bearer ${this.options.bearerToken}`);
    injectTraceContext(header);
    return header;
  }

  #unary(desc: DescMethod, request: Message, header: Headers) {
    return this.transport.unary(desc as never, undefined, this.options.timeoutMs, header, request as never);
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
  if (info.status === TaskStatus.CANCELLED) throw new ConnectError(`task ${info.taskId} was cancelled`, Code.Canceled);
  throw new ConnectError(`task ${info.taskId} failed: ${info.lastError}`, Code.Internal);
}

/**
 * An ABORTED reply carrying a declared error becomes the method's
 * `…Aborted`; what the client refused before sending is a ConnectError too.
 */
function typedError(e: unknown, method: MethodSpec): unknown {
  const err = e instanceof CallError ? toWireError(e) : ConnectError.from(e);
  if (err.code !== Code.Aborted || !method.aborted) return err;
  for (const desc of method.errors) {
    const [detail] = err.findDetails(desc);
    if (detail) return new method.aborted(detail as never, err.rawMessage);
  }
  return err;
}
