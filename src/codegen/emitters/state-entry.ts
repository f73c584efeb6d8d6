import { requestInit, type StateScope } from "./state-scope.js";

/** `Account` is both the state type and the entry point for callers. */
export function emitStateEntry(s: StateScope): void {
  const { f, S, specName, refName } = s;
  f.print(f.export("type", S), " = ", f.importShape(s.model.state), ";");
  f.print(f.export("const", S), " = {");
  f.print("  spec: ", specName, ",");
  f.print("  ref(id: string): ", refName, " {");
  f.print("    return new ", refName, "(", specName, ", id);");
  f.print("  },");
  // With several constructors `create` would have to guess which to call.
  const ctors = s.model.methods.filter((m) => m.isConstructor);
  if (ctors.length === 1) {
    const c = ctors[0]!;
    f.print(f.jsDoc(`Creates actor \`id\` with its constructor \`${c.desc.localName}\`.`, "  "));
    f.print("  async create(ctx: ", s.rt("MayCall", true), `<${JSON.stringify(c.kind)}>`, ", id: string, request?: ", ...requestInit(s, c), "): Promise<[", refName, ", ",
      f.importShape(c.desc.output), "]> {");
    f.print("    const ref = new ", refName, "(", specName, ", id);");
    f.print("    return [ref, await ref.", c.desc.localName, "(ctx, request)];");
    f.print("  },");
  }
  f.print("};");
  f.print();
}
