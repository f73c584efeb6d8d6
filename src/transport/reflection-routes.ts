import { create, toBinary, type DescFile, type DescMessage, type DescService, type MessageInitShape } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ConnectRouter } from "@connectrpc/connect";
import {
  ServerReflection,
  ServerReflectionResponseSchema,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
} from "../../generated/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1Alpha } from "../../generated/grpc/reflection/v1alpha/reflection_pb.js";

/**
 * Serves gRPC server reflection (v1, and v1alpha for older clients) for
 * every service registered on `router` before it, and for `messages` (state
 * types a service does not import). `cairn tasks show` decodes results with
 * it; grpcurl and Postman list and call methods with it. Register it last.
 */
export function registerReflectionRoutes(router: ConnectRouter, messages: readonly DescMessage[]): void {
  const services = [...new Set(router.handlers.map((h) => h.service)), ServerReflection, ServerReflectionV1Alpha];
  const index = new DescriptorIndex(services, messages);
  const impl = {
    async *serverReflectionInfo(requests: AsyncIterable<ServerReflectionRequest>) {
      for await (const request of requests) yield index.answer(request);
    },
  };
  router.service(ServerReflection, impl);
  router.service(ServerReflectionV1Alpha, impl);
}

/** The files that declare the served services and messages, their imports, and their symbols. */
class DescriptorIndex {
  readonly #services: readonly DescService[];
  readonly #files = new Map<string, DescFile>();
  readonly #symbols = new Map<string, DescFile>();
  /** Extendee type name → extension number → the file declaring it. */
  readonly #extensions = new Map<string, Map<number, DescFile>>();

  constructor(services: readonly DescService[], messages: readonly DescMessage[]) {
    this.#services = services;
    for (const desc of [...services, ...messages]) this.#add(desc.file);
  }

  #add(file: DescFile): void {
    if (this.#files.has(file.proto.name)) return;
    this.#files.set(file.proto.name, file);
    for (const dep of file.dependencies) this.#add(dep);
    const messages = (list: readonly DescMessage[]): void => {
      for (const m of list) {
        this.#symbols.set(m.typeName, file);
        for (const e of m.nestedEnums) this.#symbols.set(e.typeName, file);
        for (const x of m.nestedExtensions) this.#extension(x.typeName, x.extendee.typeName, x.number, file);
        messages(m.nestedMessages);
      }
    };
    messages(file.messages);
    for (const e of file.enums) this.#symbols.set(e.typeName, file);
    for (const x of file.extensions) this.#extension(x.typeName, x.extendee.typeName, x.number, file);
    for (const s of file.services) {
      this.#symbols.set(s.typeName, file);
      for (const m of s.methods) this.#symbols.set(`${s.typeName}.${m.name}`, file);
    }
  }

  #extension(typeName: string, extendee: string, number: number, file: DescFile): void {
    this.#symbols.set(typeName, file);
    let byNumber = this.#extensions.get(extendee);
    if (!byNumber) this.#extensions.set(extendee, (byNumber = new Map()));
    byNumber.set(number, file);
  }

  answer(request: ServerReflectionRequest): ServerReflectionResponse {
    const reply = (messageResponse: MessageInitShape<typeof ServerReflectionResponseSchema>["messageResponse"]) =>
      create(ServerReflectionResponseSchema, { validHost: request.host, originalRequest: request, messageResponse });
    const files = (file: DescFile | undefined, what: string) =>
      file
        ? reply({ case: "fileDescriptorResponse", value: { fileDescriptorProto: this.#withImports(file) } })
        : reply({ case: "errorResponse", value: { errorCode: Code.NotFound, errorMessage: `${what} not found` } });
    const q = request.messageRequest;
    switch (q.case) {
      case "listServices":
        return reply({ case: "listServicesResponse", value: { service: this.#services.map((s) => ({ name: s.typeName })) } });
      case "fileByFilename":
        return files(this.#files.get(q.value), `file ${JSON.stringify(q.value)}`);
      case "fileContainingSymbol":
        return files(this.#symbols.get(q.value), `symbol ${JSON.stringify(q.value)}`);
      case "fileContainingExtension": {
        const { containingType, extensionNumber } = q.value;
        const file = this.#extensions.get(containingType)?.get(extensionNumber);
        return files(file, `extension ${extensionNumber} of ${JSON.stringify(containingType)}`);
      }
      case "allExtensionNumbersOfType":
        return reply({
          case: "allExtensionNumbersResponse",
          value: { baseTypeName: q.value, extensionNumber: [...(this.#extensions.get(q.value)?.keys() ?? [])] },
        });
      default:
        return reply({ case: "errorResponse", value: { errorCode: Code.InvalidArgument, errorMessage: "no request set" } });
    }
  }

  /** The file and everything it imports, transitively, each once: what a client needs to build it. */
  #withImports(file: DescFile): Uint8Array[] {
    const out = new Map<string, Uint8Array>();
    const visit = (f: DescFile): void => {
      if (out.has(f.proto.name)) return;
      out.set(f.proto.name, toBinary(FileDescriptorProtoSchema, f.proto));
      for (const dep of f.dependencies) visit(dep);
    };
    visit(file);
    return [...out.values()];
  }
}
