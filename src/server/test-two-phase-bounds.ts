import { DEFAULT_TWO_PHASE_BOUNDS, type TwoPhaseBounds } from "../runtime/two-phase-bounds.js";

/**
 * TEST-ONLY. `CAIRN_TEST_TWO_PHASE_BOUNDS='{"participantLeaseMs":500}'`
 * shrinks two-phase commit's bounds (two-phase-bounds.ts) in a test server
 * process, so test/e2e/two-phase-nodes.test.ts sees a lease run out, a cap
 * reached or a prepared participant ask again without waiting 10-30 s.
 * Unset, the defaults. A bad value stops the start: a test must not pass
 * on the defaults by mistake. Never set it outside tests.
 */
export function testTwoPhaseBounds(env: NodeJS.ProcessEnv = process.env): Partial<TwoPhaseBounds> | undefined {
  const text = env.CAIRN_TEST_TWO_PHASE_BOUNDS;
  if (text === undefined || text === "") return undefined;
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== "object" || parsed === null) throw new Error(`CAIRN_TEST_TWO_PHASE_BOUNDS is not an object: ${text}`);
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (!(key in DEFAULT_TWO_PHASE_BOUNDS)) throw new Error(`CAIRN_TEST_TWO_PHASE_BOUNDS names no bound ${key}`);
    if (typeof value !== "number" || !Number.isInteger(value) || value < 1) throw new Error(`CAIRN_TEST_TWO_PHASE_BOUNDS.${key} is not a positive integer`);
    out[key] = value;
  }
  return out as Partial<TwoPhaseBounds>;
}
