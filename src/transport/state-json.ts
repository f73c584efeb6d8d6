import { fromBinary, toJsonString } from "@bufbuild/protobuf";
import type { StateSpec } from "../runtime/spec.js";

/**
 * Stored state bytes as operators read them (Actors.Get, Admin.Export):
 * protobuf JSON with every field and proto names, so an export is complete
 * and reads like the .proto file.
 */
export function stateJson(spec: StateSpec, bytes: Uint8Array): string {
  return toJsonString(spec.state, fromBinary(spec.state, bytes), { alwaysEmitImplicit: true, useProtoFieldName: true });
}
