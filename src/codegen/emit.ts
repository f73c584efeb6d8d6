// Prints one `<name>_cairn.ts` per .proto file that declares cairn services.
// All imports go through protoplugin's import symbols, so requests, responses
// and errors from other files or packages resolve to the right `_pb.js`, and
// a proto message that happens to share a name with something we export
// (e.g. the state `Account`) is aliased automatically.
// Each declaration has its own emitter under emitters/; this file orders them.
import type { DescFile } from "@bufbuild/protobuf";
import type { Schema } from "@bufbuild/protoplugin";
import type { StateModel } from "./validate.js";
import { abortedNames } from "./emitters/aborted-names.js";
import { emitAbortedErrors } from "./emitters/aborted-errors.js";
import { emitRef } from "./emitters/ref.js";
import { emitReactive } from "./emitters/reactive.js";
import { emitScheduler } from "./emitters/scheduler.js";
import { emitServicer } from "./emitters/servicer.js";
import { emitSpawner } from "./emitters/spawner.js";
import { emitStateEntry } from "./emitters/state-entry.js";
import { stateScope, type StateScope } from "./emitters/state-scope.js";
import { emitStateSpec } from "./emitters/state-spec.js";

export interface EmitOptions {
  /** Module the generated code imports the runtime from ("@cairn-dev/cairn"). */
  readonly runtime: string;
  /**
   * The browser variant: `<name>_cairn_web.ts`, importing only `<runtime>/web`:
   * declared errors, the spec, refs, reactives and spawners, but no servicer
   * and no scheduler (those run inside the application, under Node).
   */
  readonly web?: boolean;
}

/** Declarations in the order they appear in the generated file, per state. */
const EMITTERS: readonly ((s: StateScope) => void)[] = [
  emitAbortedErrors,
  emitStateSpec,
  emitServicer,
  emitSpawner,
  emitScheduler,
  emitReactive,
  emitRef,
  emitStateEntry,
];

export function emitFile(schema: Schema<object>, file: DescFile, models: readonly StateModel[], opts: EmitOptions): void {
  const web = opts.web ?? false;
  const f = schema.generateFile(file.name + (web ? "_cairn_web.ts" : "_cairn.ts"));
  f.preamble(file);
  const runtime = web ? `${opts.runtime}/web` : opts.runtime;
  const rt = (name: string, typeOnly = false) => f.import(name, runtime, typeOnly);
  const mis = f.import("MessageInitShape", "@bufbuild/protobuf", true);
  const aborted = abortedNames(models);
  for (const model of models) {
    const scope = stateScope(f, model, aborted, rt, mis, web);
    for (const emit of EMITTERS) emit(scope);
  }
}
