/** What every bench driver shares: JSON lines on stdout, progress on stderr, BENCH_ONLY. */

/** Scenarios picked by BENCH_ONLY (comma-separated); all when unset. */
const ONLY = process.env.BENCH_ONLY?.split(",").map((s) => s.trim());
export const wanted = (scenario: string): boolean => !ONLY || ONLY.includes(scenario);

/** Progress, on stderr. */
export const log = (s: string): void => {
  process.stderr.write(`bench: ${s}\n`);
};

/** One scenario's result: a JSON line on stdout. */
export const emit = (line: object): void => {
  process.stdout.write(`${JSON.stringify(line)}\n`);
};

export const sleep = (ms: number): Promise<void> => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs a bench driver's `main` and exits: 0 when it resolves, 1 (with the error on stderr) when it fails. */
export function runBench(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}
