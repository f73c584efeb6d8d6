/** The probe application as a bench server child, on a temporary data dir removed at stop. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Application, hmacTokenVerifier, type ApplicationOptions } from "../src/index.js";
import { PROBE_TOKEN_SECRET, ProbeServicerImpl } from "../test/fixtures/probe-servicer.js";
import { serveAsBenchChild } from "./child.js";

export async function serveProbeApplication(
  name: string,
  options: Partial<ApplicationOptions> = {},
  counters?: () => Record<string, number>,
): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), `cairn-bench-${name}-`));
  // The probe servicer allows every call; a loopback benchmark.
  const app = new Application({
    servicers: [ProbeServicerImpl],
    dataDir,
    host: "127.0.0.1",
    port: 0,
    tokenVerifier: hmacTokenVerifier(PROBE_TOKEN_SECRET),
    ...options,
  });
  await app.start();
  serveAsBenchChild(
    app.port,
    async () => {
      await app.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
    counters,
  );
}
