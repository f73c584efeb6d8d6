import { randomUUID } from "node:crypto";
import { createClientTransport, type ClientTransport, type TransportKind } from "./client-transport.js";
import { RemoteCalls } from "./remote-calls.js";
import type { Context } from "../api/context.js";
import { NODE_CALL_KEYS } from "../api/node-call-keys.js";
import { INVOKE, type Invoker } from "../api/invocation.js";
import { pemOf } from "./pem.js";

export type { TransportKind };

export interface ExternalContextOptions {
  /** The application's URL, e.g. "http://127.0.0.1:9991", or "https://…" for TLS. */
  url: string;
  /** For https: the CA certificate(s) to trust, PEM text or a file path. Default the system's CAs. */
  ca?: string | Buffer;
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
  readonly #calls: RemoteCalls;

  constructor(options: ExternalContextOptions) {
    this.idempotencySeed = options.idempotencySeed ?? randomUUID();
    const ca = options.ca === undefined ? undefined : pemOf(options.ca, "CA");
    this.#client = createClientTransport(options.url, options.transport ?? "connect", { ca });
    this.#calls = new RemoteCalls(
      this.#client.transport,
      { idempotencySeed: this.idempotencySeed, bearerToken: options.bearerToken, timeoutMs: options.timeoutMs },
      NODE_CALL_KEYS,
    );
  }

  get [INVOKE](): Invoker {
    return this.#calls;
  }

  /** Closes the connection; calls after this fail. */
  close(): void {
    this.#client.close();
  }
}
