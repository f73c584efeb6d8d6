import { getComments, type Printable } from "@bufbuild/protoplugin";
import type { MethodModel } from "../validate.js";
import { printClassOpen, responseSchema, type StateScope } from "./state-scope.js";

const KIND_TITLE = { reader: "Reader", writer: "Writer", transaction: "Transaction", workflow: "Workflow" } as const;
const KIND_DOC = {
  reader: "runs on the last durable state",
  writer: "runs alone on its actor",
  transaction: "may call writers and transactions on other actors",
  workflow: "runs as a durable task; retried until it returns",
} as const;

/** What users implement; Node only. The state type is the exported alias `S`. */
export function emitServicer(s: StateScope): void {
  if (s.web) return;
  const { f, S } = s;
  printClassOpen(s, `Implement one method per RPC of ${s.model.service.typeName}.`, "abstract class", `${S}Servicer`, "Servicer");
  f.print("  static override readonly spec = ", s.specName, ";");
  if (s.model.methods.some((m) => m.kind === "workflow")) {
    f.print(f.jsDoc("Inside a workflow: this actor's state, read as a snapshot or written as an inline writer.", "  "));
    f.print("  get state(): ", s.rt("WorkflowState", true), "<", S, "> {");
    f.print("    return new ", s.rt("WorkflowState"), "(", s.specName, ");");
    f.print("  }");
  }
  for (const m of s.model.methods) {
    f.print(f.jsDoc(methodDoc(m, s.aborted.get(m.desc)), "  "));
    const ctx = s.rt(`${KIND_TITLE[m.kind]}Context`, true);
    const stateParam = m.kind === "workflow" ? "" : m.kind === "reader" ? `state: Readonly<${S}>, ` : `state: ${S}, `;
    // A workflow may also return a Loop: run again as the next iteration.
    const loop: Printable[] = m.kind === "workflow" ? [" | ", s.rt("Loop", true)] : [];
    f.print("  abstract ", m.desc.localName, "(ctx: ", ctx, ", ", stateParam, "request: ", f.importShape(m.desc.input),
      "): Promise<", s.mis, "<", ...responseSchema(s, m), ">", ...loop, ">;");
  }
  f.print("}");
  f.print();
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
