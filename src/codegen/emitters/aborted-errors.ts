import type { Printable } from "@bufbuild/protoplugin";
import type { StateScope } from "./state-scope.js";

/** Typed declared errors: callers catch these, handlers throw them. */
export function emitAbortedErrors(s: StateScope): void {
  const { f } = s;
  for (const m of s.model.methods) {
    const name = s.aborted.get(m.desc);
    if (!name) continue;
    const union: Printable[] = m.errors.flatMap((e, i) => (i === 0 ? [f.importShape(e)] : [" | ", f.importShape(e)]));
    f.print(f.jsDoc(`Declared errors of ${s.model.service.typeName}.${m.desc.name}: ${m.errors.map((e) => e.name).join(", ")}.`));
    f.print(f.export("class", name), " extends ", s.rt("Aborted"), "<", ...union, "> {");
    f.print(`  override readonly name: string = "${name}";`);
    f.print("}");
    f.print();
  }
}
