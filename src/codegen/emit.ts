// Prints one `<name>_cairn.ts` per .proto file that declares cairn services.
// All imports go through protoplugin's import symbols, so requests, responses
// and errors from other files or packages resolve to the right `_pb.js`, and
// a proto message that happens to share a name with something we export
// (e.g. the state `Account`) is aliased automatically.
import type { DescFile, DescMethod } from "@bufbuild/protobuf";
import { getComments, type GeneratedFile, type ImportSymbol, type Printable, type Schema } from "@bufbuild/protoplugin";
import type { StateModel, MethodModel } from "./validate.js";

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

const KIND_TITLE = { reader: "Reader", writer: "Writer", transaction: "Transaction", workflow: "Workflow" } as const;
const KIND_DOC = {
  reader: "runs on the last durable state",
  writer: "runs alone on its actor",
  transaction: "may call writers and transactions on other actors",
  workflow: "runs as a durable task; retried until it returns",
} as const;

export function emitFile(schema: Schema<object>, file: DescFile, models: readonly StateModel[], opts: EmitOptions): void {
  const web = opts.web ?? false;
  const f = schema.generateFile(file.name + (web ? "_cairn_web.ts" : "_cairn.ts"));
  f.preamble(file);
  const runtime = web ? `${opts.runtime}/web` : opts.runtime;
  const rt = (name: string, typeOnly = false) => f.import(name, runtime, typeOnly);
  const mis = f.import("MessageInitShape", "@bufbuild/protobuf", true);
  const aborted = abortedNames(models);
  for (const model of models) emitState(f, model, aborted, rt, mis, web);
}

type Rt = (name: string, typeOnly?: boolean) => ImportSymbol;

/**
 * `<Method>Aborted` reads best, but two services in one file may share a
 * method name; only then do we prefix the state name to keep exports unique.
 */
function abortedNames(models: readonly StateModel[]): Map<DescMethod, string> {
  const count = new Map<string, number>();
  const withErrors = models.flatMap((s) => s.methods.filter((m) => m.errors.length > 0).map((m) => ({ s, m })));
  for (const { m } of withErrors) count.set(m.desc.name, (count.get(m.desc.name) ?? 0) + 1);
  return new Map(
    withErrors.map(({ s, m }) => [
      m.desc,
      (count.get(m.desc.name)! > 1 ? s.state.name : "") + m.desc.name + "Aborted",
    ]),
  );
}

function emitState(
  f: GeneratedFile,
  model: StateModel,
  aborted: Map<DescMethod, string>,
  rt: Rt,
  mis: ImportSymbol,
  web: boolean,
) {
  const { state, service } = model;
  const S = state.name;
  const stateSchema = f.importSchema(state);
  const stateSchemaType = f.importSchema(state, true);
  const spec = `${S}Spec`;
  const refClass = `${S}Ref`;
  const reqInit = (m: MethodModel): Printable[] => [mis, "<typeof ", f.importSchema(m.desc.input, true), ">"];
  const outSchema = (m: MethodModel): Printable[] => ["typeof ", f.importSchema(m.desc.output, true)];

  // Typed declared errors: callers catch these, handlers throw them.
  for (const m of model.methods) {
    const name = aborted.get(m.desc);
    if (!name) continue;
    const union: Printable[] = m.errors.flatMap((e, i) => (i === 0 ? [f.importShape(e)] : [" | ", f.importShape(e)]));
    f.print(f.jsDoc(`Declared errors of ${service.typeName}.${m.desc.name}: ${m.errors.map((e) => e.name).join(", ")}.`));
    f.print(f.export("class", name), " extends ", rt("Aborted"), "<", ...union, "> {");
    f.print(`  override readonly name: string = "${name}";`);
    f.print("}");
    f.print();
  }

  // The runtime's view: kinds and errors, joined with the descriptors at load.
  f.print(f.jsDoc(`What the runtime needs to know about ${S} and its methods.`));
  f.print(f.export("const", spec), " = ", rt("defineState"), "({");
  f.print("  state: ", stateSchema, ",");
  f.print("  service: ", f.importSchema(service), ",");
  f.print("  defaultConstructible: ", model.defaultConstructible, ",");
  f.print("  methods: {");
  for (const m of model.methods) {
    const parts: Printable[] = [`kind: "${m.kind}"`];
    if (m.isConstructor) parts.push(", isConstructor: true");
    if (m.errors.length > 0) {
      parts.push(", errors: [", ...m.errors.flatMap((e, i) => (i === 0 ? [f.importSchema(e)] : [", ", f.importSchema(e)])), "]");
      parts.push(", aborted: ", aborted.get(m.desc)!);
    }
    f.print("    ", m.desc.localName, ": { ", ...parts, " },");
  }
  f.print("  },");
  f.print("});");
  f.print();

  // What users implement. The state type is the exported alias `S` below.
  if (!web) {
    f.print(f.jsDoc(`Implement one method per RPC of ${service.typeName}.`));
    f.print(f.export("abstract class", `${S}Servicer`), " extends ", rt("Servicer"), "<typeof ", stateSchemaType, "> {");
    f.print("  static override readonly spec = ", spec, ";");
    for (const m of model.methods) {
      f.print(f.jsDoc(methodDoc(m, aborted.get(m.desc)), "  "));
      const ctx = rt(`${KIND_TITLE[m.kind]}Context`, true);
      const stateParam = m.kind === "workflow" ? "" : m.kind === "reader" ? `state: Readonly<${S}>, ` : `state: ${S}, `;
      // A workflow may also return a Loop: run again as the next iteration.
      const loop: Printable[] = m.kind === "workflow" ? [" | ", rt("Loop", true)] : [];
      f.print("  abstract ", m.desc.localName, "(ctx: ", ctx, ", ", stateParam, "request: ", f.importShape(m.desc.input),
        "): Promise<", ...reqInitOf(mis, outSchema(m)), ...loop, ">;");
    }
    f.print("}");
    f.print();
  }

  // Methods that can run as durable tasks: workflows, and writers.
  const taskMethods = model.methods.filter((m) => m.kind === "workflow" || m.kind === "writer");
  const ctxType = rt("Context", true);
  const timing = rt("TaskTiming", true);
  if (taskMethods.length > 0) {
    f.print(f.jsDoc(`\`ref.spawn()\`: starts ${S} methods as durable tasks.`));
    f.print(f.export("class", `${S}Spawner`), " extends ", rt("Spawner"), "<typeof ", stateSchemaType, "> {");
    for (const m of taskMethods) {
      f.print("  ", m.desc.localName, "(ctx: ", ctxType, ", request?: ", ...reqInit(m), "): ", rt("Task", true), "<",
        f.importShape(m.desc.output), "> {");
      f.print("    return this.spawnCall<", ...outSchema(m), ">(", f.string(m.desc.localName), ", ctx, request);");
      f.print("  }");
    }
    f.print("}");
    f.print();
  }
  if (taskMethods.length > 0 && !web) {
    f.print(f.jsDoc(`\`ref.schedule()\` from a writer: tasks that exist only if the writer commits.`));
    f.print(f.export("class", `${S}Scheduler`), " extends ", rt("Scheduler"), "<typeof ", stateSchemaType, "> {");
    for (const m of taskMethods) {
      f.print("  ", m.desc.localName, "(ctx: ", ctxType, ", request?: ", ...reqInit(m), "): string {");
      f.print("    return this.scheduleCall(", f.string(m.desc.localName), ", ctx, request);");
      f.print("  }");
    }
    f.print("}");
    f.print();
  }

  // Readers can be watched: `ref.reactively().balance(ctx)`.
  const readers = model.methods.filter((m) => m.kind === "reader");
  if (readers.length > 0) {
    f.print(f.jsDoc(`\`ref.reactively()\`: ${S} readers as live streams of responses.`));
    f.print(f.export("class", `${S}Reactive`), " extends ", rt("Reactive"), "<typeof ", stateSchemaType, "> {");
    for (const m of readers) {
      f.print("  ", m.desc.localName, "(ctx: ", ctxType, ", request?: ", ...reqInit(m), "): AsyncIterable<",
        f.importShape(m.desc.output), "> {");
      f.print("    return this.watchCall<", ...outSchema(m), ">(", f.string(m.desc.localName), ", ctx, request);");
      f.print("  }");
    }
    f.print("}");
    f.print();
  }

  // What callers hold: one typed method per RPC, whatever its kind.
  f.print(f.jsDoc(`A typed reference to one ${S} actor.`));
  f.print(f.export("class", refClass), " extends ", rt("Ref"), "<typeof ", stateSchemaType, "> {");
  for (const m of model.methods) {
    f.print("  ", m.desc.localName, "(ctx: ", ctxType, ", request?: ", ...reqInit(m), "): Promise<", f.importShape(m.desc.output), "> {");
    f.print("    return this.call<", ...outSchema(m), ">(", f.string(m.desc.localName), ", ctx, request);");
    f.print("  }");
  }
  if (readers.length > 0) {
    f.print(f.jsDoc("Readers as live streams: each response, then one per change of what it read.", "  "));
    f.print("  reactively(signal?: AbortSignal): ", `${S}Reactive`, " {");
    f.print("    return new ", `${S}Reactive`, "(this, signal);");
    f.print("  }");
  }
  if (taskMethods.length > 0) {
    f.print(f.jsDoc("Starts a method as a durable task (now, or `when`); await the Task for its result.", "  "));
    f.print("  spawn(timing?: ", timing, "): ", `${S}Spawner`, " {");
    f.print("    return new ", `${S}Spawner`, "(this, timing);");
    f.print("  }");
  }
  if (taskMethods.length > 0 && !web) {
    f.print(f.jsDoc("From a writer: schedules a task in the writer's own commit.", "  "));
    f.print("  schedule(timing?: ", timing, "): ", `${S}Scheduler`, " {");
    f.print("    return new ", `${S}Scheduler`, "(this, timing);");
    f.print("  }");
  }
  f.print("}");
  f.print();

  // `Account` is both the state type and the entry point for callers.
  f.print(f.export("type", S), " = ", f.importShape(state), ";");
  f.print(f.export("const", S), " = {");
  f.print("  spec: ", spec, ",");
  f.print("  ref(id: string): ", refClass, " {");
  f.print("    return new ", refClass, "(", spec, ", id);");
  f.print("  },");
  // With several constructors `create` would have to guess which to call.
  const ctors = model.methods.filter((m) => m.isConstructor);
  if (ctors.length === 1) {
    const c = ctors[0]!;
    f.print(f.jsDoc(`Creates actor \`id\` with its constructor \`${c.desc.localName}\`.`, "  "));
    f.print("  async create(ctx: ", ctxType, ", id: string, request?: ", ...reqInit(c), "): Promise<[", refClass, ", ",
      f.importShape(c.desc.output), "]> {");
    f.print("    const ref = new ", refClass, "(", spec, ", id);");
    f.print("    return [ref, await ref.", c.desc.localName, "(ctx, request)];");
    f.print("  },");
  }
  f.print("};");
  f.print();
}

function reqInitOf(mis: ImportSymbol, schemaType: Printable[]): Printable[] {
  return [mis, "<", ...schemaType, ">"];
}

function methodDoc(m: MethodModel, abortedName: string | undefined): string {
  const lines: string[] = [];
  const leading = getComments(m.desc).leading?.trim();
  if (leading) lines.push(leading, "");
  const ctor = m.isConstructor ? " (constructor)" : "";
  lines.push(`${KIND_TITLE[m.kind]}${ctor}: ${KIND_DOC[m.kind]}${m.isConstructor ? "; creates it." : "."}`);
  if (abortedName) lines.push(`Throws ${abortedName} to abort with a declared error.`);
  return lines.join("\n");
}
