import { createFileRegistry, fromBinary, toJsonString, type DescMessage } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { reflectionClient, type Connection } from "./connection.js";
import { byFieldNumber } from "./wire-dump.js";

/** Said once per run when payloads cannot be decoded with the application's schema. */
const NO_REFLECTION_NOTE =
  "cairn: note: the server does not serve reflection (Application option reflection: false), so results are shown by field number";

/**
 * The application's message types, fetched from the running server through
 * gRPC server reflection as the CLI needs them (each file once per run), so
 * task results and errors print as JSON with the app's field names.
 */
export class AppSchema {
  readonly #connection: Connection;
  readonly #files = new Map<string, FileDescriptorProto>();
  readonly #types = new Map<string, Promise<DescMessage | undefined>>();
  #unavailable = false;

  constructor(connection: Connection) {
    this.#connection = connection;
  }

  /**
   * `bytes` as JSON of message `typeName` (proto field names, every field),
   * or else as far as it can be read without a schema.
   */
  async render(typeName: string, bytes: Uint8Array): Promise<string> {
    const desc = typeName ? await this.messageType(typeName) : undefined;
    if (desc) {
      try {
        return toJsonString(desc, fromBinary(desc, bytes), { alwaysEmitImplicit: true, useProtoFieldName: true });
      } catch {
        // Bytes that are not this message (a schema changed since): shown as bytes below.
      }
    }
    return byFieldNumber(bytes);
  }

  /** The message type, or undefined if the server does not know it or serves no reflection. */
  messageType(typeName: string): Promise<DescMessage | undefined> {
    let type = this.#types.get(typeName);
    if (!type) this.#types.set(typeName, (type = this.#fetch(typeName)));
    return type;
  }

  async #fetch(typeName: string): Promise<DescMessage | undefined> {
    if (this.#unavailable) return undefined;
    let answer;
    try {
      answer = await ask(this.#connection, typeName);
    } catch (e) {
      const code = ConnectError.from(e).code;
      if (code !== Code.Unimplemented && code !== Code.NotFound) throw e;
      this.#unavailable = true;
      console.error(NO_REFLECTION_NOTE);
      return undefined;
    }
    if (answer.case !== "fileDescriptorResponse") return undefined;
    const protos = answer.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b));
    for (const p of protos) if (!this.#files.has(p.name)) this.#files.set(p.name, p);
    // The first file declares the symbol; the others are what it imports.
    const registry = createFileRegistry(protos[0]!, (name) => this.#files.get(name));
    return registry.getMessage(typeName);
  }
}

/** One file_containing_symbol question on its own reflection stream. */
async function ask(connection: Connection, symbol: string) {
  const requests = [{ messageRequest: { case: "fileContainingSymbol" as const, value: symbol } }];
  for await (const res of reflectionClient(connection).serverReflectionInfo(toAsync(requests))) return res.messageResponse;
  throw new ConnectError("the reflection stream ended without an answer", Code.Unavailable);
}

async function* toAsync<T>(items: readonly T[]): AsyncIterable<T> {
  yield* items;
}
