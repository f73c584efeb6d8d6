import { randomUUID } from "node:crypto";
import type { Message } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { createClientTransport, type ClientTransport, type TransportKind } from "../transport/client-transport.js";
import { ACTOR_ID_HEADER, IDEMPOTENCY_KEY_HEADER } from "../transport/headers.js";
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
    return { invoke: (inv) => this.#invoke(inv) };
  }

  /** Closes the connection; calls after this fail. */
  close(): void {
    this.#client.close();
  }

  async #invoke(inv: Invocation): Promise<Message> {
    const header = new Headers({ [ACTOR_ID_HEADER]: inv.actorId });
    if (this.#options.bearerToken) header.set("authorization", `Bearer ${this.#options.bearerToken}`);
    const key = this.#keyFor(inv);
    if (key !== undefined) header.set(IDEMPOTENCY_KEY_HEADER, key);
    try {
      const response = await this.#client.transport.unary(
        inv.method.desc as never,
        undefined,
        this.#options.timeoutMs,
        header,
        inv.request as never,
      );
      return response.message as Message;
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
