/**
 * The bounds two-phase commit keeps across nodes (DESIGN.md §9). Internal:
 * the defaults are the product; tests pass smaller ones (through the
 * test-only CAIRN_TEST_TWO_PHASE_BOUNDS, src/server/test-two-phase-bounds.ts)
 * so they never wait 10-30 s for a bound to run out.
 */
export interface TwoPhaseBounds {
  /** How long a transaction another node coordinates keeps its actors here, unprepared, with no call from it. */
  readonly participantLeaseMs: number;
  /** How many unprepared transactions other nodes may hold open here at once. */
  readonly maxOpenTransactions: number;
  /** How many calls one transaction may make here (each keeps a savepoint). */
  readonly maxCallsPerTransaction: number;
  /** How long a prepared transaction blocks its actors before the participant asks the coordinator itself. */
  readonly askCoordinatorAfterMs: number;
  /** How long a call that lost a wait-die here waits for that lock to change hands: then it runs once more (holding nothing here) or answers its conflict. */
  readonly lockHandOverMs: number;
}

export const DEFAULT_TWO_PHASE_BOUNDS: TwoPhaseBounds = {
  participantLeaseMs: 30_000,
  maxOpenTransactions: 1024,
  maxCallsPerTransaction: 1000,
  askCoordinatorAfterMs: 10_000,
  lockHandOverMs: 50,
};

/** The defaults with `partial` over them. */
export function twoPhaseBounds(partial: Partial<TwoPhaseBounds> | undefined): TwoPhaseBounds {
  return { ...DEFAULT_TWO_PHASE_BOUNDS, ...partial };
}
