// What every emitter of one state's declarations needs: the file, the model,
// the names the declarations refer to each other by, and the import helpers.
// Built once per state so each emitter prints without deciding anything.
import type { DescMethod } from "@bufbuild/protobuf";
import type { GeneratedFile, ImportSymbol, Printable } from "@bufbuild/protoplugin";
import type { MethodModel, StateModel } from "../validate.js";

/** Imports `name` from the runtime module (the Node or the web face). */
export type RuntimeImport = (name: string, typeOnly?: boolean) => ImportSymbol;

export interface StateScope {
  readonly f: GeneratedFile;
  readonly model: StateModel;
  /** The state's name, e.g. `Account`: the type alias and the callers' entry point. */
  readonly S: string;
  readonly specName: string;
  readonly refName: string;
  readonly spawnerName: string;
  readonly schedulerName: string;
  readonly reactiveName: string;
  readonly rt: RuntimeImport;
  /** `MessageInitShape` from protobuf-es. */
  readonly mis: ImportSymbol;
  /** The browser variant: no servicer and no scheduler. */
  readonly web: boolean;
  /** `<Method>Aborted` class names of methods with declared errors. */
  readonly aborted: ReadonlyMap<DescMethod, string>;
  /** Methods that can run as durable tasks: workflows, and writers. */
  readonly taskMethods: readonly MethodModel[];
  /** Readers can be watched: `ref.reactively().balance(ctx)`. */
  readonly readers: readonly MethodModel[];
}

export function stateScope(
  f: GeneratedFile,
  model: StateModel,
  aborted: ReadonlyMap<DescMethod, string>,
  rt: RuntimeImport,
  mis: ImportSymbol,
  web: boolean,
): StateScope {
  const S = model.state.name;
  return {
    f,
    model,
    S,
    specName: `${S}Spec`,
    refName: `${S}Ref`,
    spawnerName: `${S}Spawner`,
    schedulerName: `${S}Scheduler`,
    reactiveName: `${S}Reactive`,
    rt,
    mis,
    web,
    aborted,
    taskMethods: model.methods.filter((m) => m.kind === "workflow" || m.kind === "writer"),
    readers: model.methods.filter((m) => m.kind === "reader"),
  };
}

/** `MessageInitShape<typeof XSchema>` of a method's request. */
export function requestInit(s: StateScope, m: MethodModel): Printable[] {
  return [s.mis, "<typeof ", s.f.importSchema(m.desc.input, true), ">"];
}

/** `typeof XSchema` of a method's response. */
export function responseSchema(s: StateScope, m: MethodModel): Printable[] {
  return ["typeof ", s.f.importSchema(m.desc.output, true)];
}

/** `export <keyword> Name extends <Base><typeof StateSchema> {` with its doc comment. */
export function printClassOpen(s: StateScope, doc: string, keyword: "class" | "abstract class", name: string, base: string): void {
  const { f } = s;
  f.print(f.jsDoc(doc));
  f.print(f.export(keyword, name), " extends ", s.rt(base), "<typeof ", f.importSchema(s.model.state, true), "> {");
}

/** A factory member of the ref: `name(param): Class { return new Class(this, arg); }`. */
export function printRefFactory(s: StateScope, doc: string, signature: Printable[], className: string, arg: string): void {
  s.f.print(s.f.jsDoc(doc, "  "));
  s.f.print("  ", ...signature, "): ", className, " {");
  s.f.print("    return new ", className, "(this, ", arg, ");");
  s.f.print("  }");
}
