import { printCallMethods } from "./call-methods.js";
import { printClassOpen, type StateScope } from "./state-scope.js";

/** `ref.schedule()` from a writer; Node only (a browser has no writer). */
export function emitScheduler(s: StateScope): void {
  if (s.taskMethods.length === 0 || s.web) return;
  printClassOpen(s, `\`ref.schedule()\` from a writer: tasks that exist only if the writer commits.`, "class", s.schedulerName, "Scheduler");
  printCallMethods(s, s.taskMethods, { context: () => [s.rt("MaySchedule", true)], returns: () => ["string"], via: () => ["scheduleCall"] });
  s.f.print("}");
  s.f.print();
}
