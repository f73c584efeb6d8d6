/**
 * `npx tsx bench/backup.ts`: what a live backup costs. A bank server in its
 * own process is filled with BENCH_BACKUP_ACTORS accounts (~1 KB of state
 * each), then writers (64 deposits in flight) are measured in slices that
 * alternate between no backup and back-to-back `Admin.Backup` calls into
 * fresh folders, in the same run. One JSON line: the data file's size, the
 * time of one copy (plain and compacted), and writer throughput and p99
 * during backups vs. without.
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { ExternalContext, signHmacToken } from "../src/index.js";
import { Account } from "../generated/bank/v1/account_cairn.js";
import { Admin } from "../generated/cairn/v1/admin_pb.js";
import { BANK_TOKEN_SECRET } from "../examples/bank/servicer.js";
import { spawnServer, stopServer } from "../examples/bank/spawn.js";
import { mergeLoads, round, runLoad, type LoadResult } from "./load.js";
import { emit, log } from "./output.js";

const ACTORS = Number(process.env.BENCH_BACKUP_ACTORS ?? 50_000);
const SLICES = Number(process.env.BENCH_SLICES ?? 3);
const SLICE_SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const IN_FLIGHT = 64;
/** Each account's owner, stored twice (owner and the "opened by" line): a state of about 1 KB. */
const OWNER = "o".repeat(480);

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), "cairn-bench-backup-"));
  const copies = mkdtempSync(join(tmpdir(), "cairn-bench-copies-"));
  const server = await spawnServer({ dataDir, port: 0, readyTimeoutMs: 120_000 });
  const ctx = new ExternalContext({ url: server.url, transport: "connect" });
  const admin = createClient(
    Admin,
    createConnectTransport({
      baseUrl: server.url,
      httpVersion: "2",
      interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${signHmacToken({ sub: "ops", cairn_admin: true }, BANK_TOKEN_SECRET)}`), next(req))],
    }),
  );
  let copyNo = 0;
  const backup = async (compact = false) => {
    const destination = join(copies, `copy-${copyNo++}`);
    const t0 = performance.now();
    const { bytes } = await admin.backup({ destination, compact });
    const ms = performance.now() - t0;
    rmSync(destination, { recursive: true, force: true });
    return { ms, bytes: Number(bytes) };
  };
  try {
    log(`filling ${ACTORS} accounts`);
    const fill = await runLoad({
      inFlight: IN_FLIGHT,
      warmupSeconds: 0,
      seconds: 600,
      maxCalls: ACTORS,
      call: (i) => Account.create(ctx, `acct-${i}`, { owner: OWNER, initial: 0n }),
    });
    if (fill.errors > 0) throw new Error(`filling failed: ${fill.firstError}`);
    const deposit = (i: number) => Account.ref(`acct-${i % ACTORS}`).deposit(ctx, { amount: 1n });
    const window = () => runLoad({ inFlight: IN_FLIGHT, warmupSeconds: 0, seconds: SLICE_SECONDS, maxCalls: 1_000_000, call: deposit });

    const without: LoadResult[] = [];
    const during: LoadResult[] = [];
    const copyMs: number[] = [];
    let copyBytes = 0;
    for (let slice = 0; slice < SLICES; slice++) {
      log(`slice ${slice + 1}/${SLICES}: writers alone, then writers during backups`);
      without.push(await window());
      let loading = true;
      const copying = (async () => {
        while (loading) {
          const { ms, bytes } = await backup();
          copyMs.push(ms);
          copyBytes = bytes;
        }
      })();
      during.push(await window());
      loading = false;
      await copying;
    }
    const compact = await backup(true);
    const alone = mergeLoads(without);
    const withBackup = mergeLoads(during);
    const errors = alone.errors + withBackup.errors;
    emit({
      scenario: "backup-live",
      actors: ACTORS,
      dataFileMB: round(statSync(join(dataDir, "data.mdb")).size / 2 ** 20, 1),
      copyMB: round(copyBytes / 2 ** 20, 1),
      copies: copyMs.length,
      backupMsMean: round(copyMs.reduce((s, x) => s + x, 0) / copyMs.length, 1),
      backupMsMax: round(Math.max(...copyMs), 1),
      compactCopyMB: round(compact.bytes / 2 ** 20, 1),
      compactBackupMs: round(compact.ms, 1),
      writerThroughputAlone: alone.throughput,
      writerThroughputDuringBackup: withBackup.throughput,
      ratio: round(withBackup.throughput / alone.throughput, 3),
      p99MsAlone: alone.p99Ms,
      p99MsDuringBackup: withBackup.p99Ms,
      errors,
      ...(errors > 0 ? { firstError: alone.firstError ?? withBackup.firstError } : {}),
    });
  } finally {
    ctx.close();
    await stopServer(server);
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(copies, { recursive: true, force: true });
  }
}

await main();
