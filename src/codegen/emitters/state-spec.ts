import type { Printable } from "@bufbuild/protoplugin";
import type { StateScope } from "./state-scope.js";

/** The runtime's view: kinds and errors, joined with the descriptors at load. */
export function emitStateSpec(s: StateScope): void {
  const { f, model } = s;
  f.print(f.jsDoc(`What the runtime needs to know about ${s.S} and its methods.`));
  f.print(f.export("const", s.specName), " = ", s.rt("defineState"), "({");
  f.print("  state: ", f.importSchema(model.state), ",");
  f.print("  service: ", f.importSchema(model.service), ",");
  f.print("  defaultConstructible: ", model.defaultConstructible, ",");
  f.print("  methods: {");
  for (const m of model.methods) {
    const parts: Printable[] = [`kind: "${m.kind}"`];
    if (m.isConstructor) parts.push(", isConstructor: true");
    if (m.errors.length > 0) {
      parts.push(", errors: [", ...m.errors.flatMap((e, i) => (i === 0 ? [f.importSchema(e)] : [", ", f.importSchema(e)])), "]");
      parts.push(", aborted: ", s.aborted.get(m.desc)!);
    }
    f.print("    ", m.desc.localName, ": { ", ...parts, " },");
  }
  f.print("  },");
  f.print("});");
  f.print();
}
