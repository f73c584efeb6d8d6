import type { TwoPhasePoint } from "../runtime/transaction-side.js";

/**
 * TEST-ONLY. `CAIRN_TEST_CRASH_AT=after-prepare|after-decision|participant-after-prepare|before-hand-over`
 * makes the process SIGKILL itself the first time a cross-partition
 * transaction (or a task handed over to another node) reaches that point
 * (transaction-side.ts), so the crash tests (test/e2e/two-phase-crash.test.ts,
 * test/e2e/nodes-hand-over.test.ts) can kill it exactly there. Unset, it
 * is nothing: no check on any path. Never set it outside tests.
 */
export function testCrashPoint(env: NodeJS.ProcessEnv = process.env): ((point: TwoPhasePoint) => void) | undefined {
  const at = env.CAIRN_TEST_CRASH_AT;
  if (at === undefined || at === "") return undefined;
  return (point) => {
    if (point === at) process.kill(process.pid, "SIGKILL");
  };
}
