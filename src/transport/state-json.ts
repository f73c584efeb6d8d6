import { toJsonString, type Message } from "@bufbuild/protobuf";
import type { StateSpec } from "../api/spec.js";

/**
 * An actor's state as operators read it (Actors.Get, Admin.Export):
 * protobuf JSON with every field and proto names, so an export is complete
 * and reads like the .proto file.
 */
export function stateJson(spec: StateSpec, state: Message): string {
  return toJsonString(spec.state, state, { alwaysEmitImplicit: true, useProtoFieldName: true });
}
