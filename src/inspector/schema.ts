// What the inspector knows of the application's types, from Actors.Types:
// the state types with their methods, and a registry of every message
// (built from the served descriptors) to decode requests, responses and
// declared errors as JSON.
import { createFileRegistry, fromBinary, toJson, type Registry } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import type { ListStateTypesResponse, StateTypeInfo } from "../../generated/cairn/v1/actors_pb.js";

export interface Schema {
  readonly stateTypes: readonly StateTypeInfo[];
  readonly registry: Registry;
}

export function schemaOf(response: ListStateTypesResponse): Schema {
  return { stateTypes: response.stateTypes, registry: createFileRegistry(fromBinary(FileDescriptorSetSchema, response.fileDescriptorSet)) };
}

/** A message's bytes as protobuf JSON, or why they could not be decoded. */
export function decodeJson(schema: Schema | undefined, typeName: string, bytes: Uint8Array): { json?: unknown; problem?: string } {
  if (typeName === "") return { problem: "the application no longer serves this method" };
  if (!schema) return { problem: "loading the types…" };
  const desc = schema.registry.getMessage(typeName);
  if (!desc) return { problem: `unknown message type ${typeName}` };
  try {
    return { json: toJson(desc, fromBinary(desc, bytes), { registry: schema.registry, alwaysEmitImplicit: true, useProtoFieldName: true }) };
  } catch (e) {
    return { problem: e instanceof Error ? e.message : String(e) };
  }
}
