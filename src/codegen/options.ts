// Reads Cairn's custom options (proto/cairn/v1/options.proto) out of a
// CodeGeneratorRequest. We deliberately do not import generated code for
// options.proto: the plugin must run before anything is generated, and the
// request already carries the extension descriptors, so we find them there
// and read the option values reflectively.
import {
  getExtension,
  hasExtension,
  type DescExtension,
  type DescMessage,
  type DescMethod,
  type DescService,
  type Message,
} from "@bufbuild/protobuf";
import { reflect } from "@bufbuild/protobuf/reflect";
import type { Schema } from "@bufbuild/protoplugin";

export type MethodKind = "reader" | "writer" | "transaction" | "workflow";

export interface MethodOption {
  /** Undefined when the option is present but no `kind` was chosen. */
  readonly kind: MethodKind | undefined;
  readonly isConstructor: boolean;
  readonly errors: readonly string[];
}

export interface ServiceOption {
  /** Empty when not set: the `<State>Methods` naming convention applies. */
  readonly state: string;
  readonly defaultConstructible: boolean;
}

export interface CairnOptions {
  /** Whether the message carries `(cairn.v1.state)`. */
  isState(message: DescMessage): boolean;
  /** `(cairn.v1.service)`, or undefined when absent. */
  service(service: DescService): ServiceOption | undefined;
  /** `(cairn.v1.method)`, or undefined when absent. */
  method(method: DescMethod): MethodOption | undefined;
}

/**
 * Finds the three extensions by full name. When a request does not contain
 * options.proto at all (no file imports it), nothing can carry the options,
 * so every lookup answers "absent" rather than failing.
 */
export function readCairnOptions(schema: Schema<object>): CairnOptions {
  const byName = new Map<string, DescExtension>();
  for (const ext of schema.allFiles.flatMap((f) => f.extensions)) {
    byName.set(ext.typeName, ext);
  }
  const stateExt = byName.get("cairn.v1.state");
  const serviceExt = byName.get("cairn.v1.service");
  const methodExt = byName.get("cairn.v1.method");

  // Reads a message-typed extension off an options message; proto.options is
  // unset when a declaration has no options at all.
  function read(options: Message | undefined, ext: DescExtension | undefined) {
    if (!options || !ext || ext.fieldKind !== "message") return undefined;
    if (!hasExtension(options as never, ext)) return undefined;
    return reflect(ext.message, getExtension(options as never, ext) as Message);
  }

  return {
    isState(message) {
      return read(message.proto.options, stateExt) !== undefined;
    },
    service(service) {
      const r = read(service.proto.options, serviceExt);
      if (!r) return undefined;
      return {
        state: String(r.get(field(r.desc, "state"))),
        defaultConstructible: Boolean(r.get(field(r.desc, "default_constructible"))),
      };
    },
    method(method) {
      const r = read(method.proto.options, methodExt);
      if (!r) return undefined;
      const oneof = r.desc.oneofs.find((o) => o.name === "kind");
      const chosen = oneof ? r.oneofCase(oneof) : undefined;
      let isConstructor = false;
      if (chosen?.fieldKind === "message") {
        // writer/transaction have a `constructor` message field: presence of
        // that field (even empty, `constructor: {}`) is the flag.
        const kindMsg = r.get(chosen);
        const ctorField = chosen.message.fields.find((f) => f.name === "constructor");
        if (ctorField && kindMsg) isConstructor = kindMsg.isSet(ctorField);
      }
      const errorsList = r.get(field(r.desc, "errors"));
      const errors: string[] = [];
      if (typeof errorsList === "object" && errorsList !== null && Symbol.iterator in errorsList) {
        for (const e of errorsList as Iterable<unknown>) errors.push(String(e));
      }
      return { kind: chosen?.name as MethodKind | undefined, isConstructor, errors };
    },
  };
}

function field(desc: DescMessage, name: string) {
  const f = desc.fields.find((x) => x.name === name);
  // Only possible if options.proto was edited incompatibly.
  if (!f) throw new Error(`protoc-gen-cairn: ${desc.typeName} has no field ${name}`);
  return f;
}
