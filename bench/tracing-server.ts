/**
 * The server child of bench/tracing.ts: `tracing-server.ts none|sdk`. The
 * probe application, either as users run it without OpenTelemetry, or with
 * the SDK installed as a production setup would (bench/tracing-sdk.ts).
 */
import { exportedSpans, installSdk } from "./tracing-sdk.js";
import { serveProbeApplication } from "./probe-server.js";

const mode = process.argv[2];
if (mode === "sdk") installSdk();
else if (mode !== "none") throw new Error(`unknown mode ${String(mode)}; expected none or sdk`);

// BENCH_DURABILITY=relaxed takes the fsync out of each write: what is left is CPU, where tracing costs.
const durability = process.env.BENCH_DURABILITY === "relaxed" ? "relaxed" : "durable";
await serveProbeApplication(`tracing-${mode}`, { durability }, () => ({ exportedSpans: exportedSpans() }));
