import { printCallMethods } from "./call-methods.js";
import { printClassOpen, responseSchema, type StateScope } from "./state-scope.js";

/** `ref.reactively()`: readers as live streams of responses. */
export function emitReactive(s: StateScope): void {
  if (s.readers.length === 0) return;
  printClassOpen(s, `\`ref.reactively()\`: ${s.S} readers as live streams of responses.`, "class", s.reactiveName, "Reactive");
  printCallMethods(s, s.readers, {
    context: () => [s.rt("MayWatch", true)],
    returns: (m) => ["AsyncIterable<", s.f.importShape(m.desc.output), ">"],
    via: (m) => ["watchCall<", ...responseSchema(s, m), ">"],
  });
  s.f.print("}");
  s.f.print();
}
