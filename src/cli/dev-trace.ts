// CAIRN_DEV_TRACE=1: `cairn dev` and its server processes print each step of
// a restart with the wall-clock time, so where a restart spends its time can
// be read across processes (bench/dev-loop.ts sets it under BENCH_TRACE=1).

const on = process.env.CAIRN_DEV_TRACE === "1";

/** Prints `cairn dev: trace <epoch ms> <step>` on stderr when tracing is on. */
export function devTrace(step: string): void {
  if (on) process.stderr.write(`cairn dev: trace ${Date.now()} ${step}\n`);
}
