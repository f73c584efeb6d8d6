import { printCallMethods } from "./call-methods.js";
import { printClassOpen, responseSchema, type StateScope } from "./state-scope.js";

/** `ref.spawn()`: starts task methods as durable tasks. */
export function emitSpawner(s: StateScope): void {
  if (s.taskMethods.length === 0) return;
  printClassOpen(s, `\`ref.spawn()\`: starts ${s.S} methods as durable tasks.`, "class", s.spawnerName, "Spawner");
  printCallMethods(s, s.taskMethods, {
    context: () => [s.rt("MaySpawn", true)],
    returns: (m) => [s.rt("Task", true), "<", s.f.importShape(m.desc.output), ">"],
    via: (m) => ["spawnCall<", ...responseSchema(s, m), ">"],
  });
  s.f.print("}");
  s.f.print();
}
