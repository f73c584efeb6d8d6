import { printCallMethods } from "./call-methods.js";
import { printClassOpen, printRefFactory, responseSchema, type StateScope } from "./state-scope.js";

/** What callers hold: one typed method per RPC, whatever its kind, and the modifiers. */
export function emitRef(s: StateScope): void {
  const { f } = s;
  printClassOpen(s, `A typed reference to one ${s.S} actor.`, "class", s.refName, "Ref");
  printCallMethods(s, s.model.methods, {
    context: (m) => [s.rt("MayCall", true), `<${JSON.stringify(m.kind)}>`],
    returns: (m) => ["Promise<", f.importShape(m.desc.output), ">"],
    via: (m) => ["call<", ...responseSchema(s, m), ">"],
  });
  if (s.readers.length > 0) {
    printRefFactory(s, "Readers as live streams: each response, then one per change of what it read.",
      ["reactively(signal?: AbortSignal"], s.reactiveName, "signal");
  }
  if (s.taskMethods.length > 0) {
    printRefFactory(s, "Starts a method as a durable task (now, or `when`); await the Task for its result.",
      ["spawn(timing?: ", s.rt("TaskTiming", true)], s.spawnerName, "timing");
  }
  if (s.taskMethods.length > 0 && !s.web) {
    printRefFactory(s, "From a writer: schedules a task in the writer's own commit.",
      ["schedule(timing?: ", s.rt("TaskTiming", true)], s.schedulerName, "timing");
  }
  f.print("}");
  f.print();
}
