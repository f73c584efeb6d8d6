// Backup and restore through real processes: a bank server under a load of
// keyed deposits and transfers is backed up with `cairn backup` mid-load,
// then SIGKILLed; a new server started on the copy must hold every write
// acknowledged before the backup began, exactly once, with transfers
// conserving the total, and the workflows in the copy must resume.
//
// Presence is checked by re-sending keys on the restored server: a key in
// the copy replays its stored answer and changes nothing; a missing one
// would apply again and move a balance. Deposits go to their own accounts
// and transfers only from an even account to the next odd one, so no set
// of missing writes can cancel out.
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { signHmacToken, type ExternalContext } from "@cairn-dev/cairn";
import { Account } from "../../generated/bank/v1/account_cairn.js";
import { TaskStatus } from "../../generated/cairn/v1/tasks_pb.js";
import { BANK_TOKEN_SECRET } from "../../examples/bank/servicer.js";
import { runCli } from "../fixtures/cli-process.js";
import { tasksClient } from "../fixtures/tasks-client.js";
import { waitFor } from "../fixtures/waiting.js";
import { freePort, killHard, ServerProcesses, within, type SpawnedServer } from "./helpers.js";

vi.setConfig({ testTimeout: 480_000, hookTimeout: 240_000 });

const ADMIN = signHmacToken({ sub: "ops", cairn_admin: true }, BANK_TOKEN_SECRET);
const OWNER = signHmacToken({ sub: "ann" }, BANK_TOKEN_SECRET);
const DEPOSIT_ACCOUNTS = 8;
/** Even ones send to the next odd one. */
const TRANSFER_ACCOUNTS = 8;
const TRANSFER_INITIAL = 1_000_000n;
const WORKFLOWS = 3;
const IN_FLIGHT = 32;
/** The load stops at whichever comes first. */
const MAX_ATTEMPTS = 20_000;
const ACKS_BEFORE_BACKUP = 300;
const ACKS_AFTER_BACKUP = 100;
const CALL_TIMEOUT_MS = 60_000;

type Write =
  | { kind: "deposit"; key: string; account: string; acked?: bigint; beforeBackup?: boolean }
  | { kind: "transfer"; key: string; from: string; to: string; acked?: boolean; beforeBackup?: boolean };

const depositAccount = (i: number) => `dep-${i}`;
const transferAccount = (i: number) => `tr-${i}`;
const workflowAccount = (i: number) => `wf-${i}`;
/** Write n (odd) goes from account 2p to 2p + 1. */
const pair = (n: number) => ((n - 1) / 2) % (TRANSFER_ACCOUNTS / 2);

describe("backup of a live server, restored after a SIGKILL", () => {
  const processes = new ServerProcesses();
  let ledger: Server;
  let ledgerUrl = "";
  let receipts = 0;

  beforeAll(async () => {
    // The workflows' side effect: a real HTTP endpoint answering receipts.
    ledger = createServer((req, res) => {
      req.resume().on("end", () => res.setHeader("content-type", "application/json").end(JSON.stringify({ receipt: `r${++receipts}` })));
    });
    await new Promise<void>((resolve) => ledger.listen(0, "127.0.0.1", resolve));
    const address = ledger.address();
    ledgerUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/`;
  });
  afterAll(async () => {
    await processes.close();
    await new Promise((resolve) => ledger.close(resolve));
  });

  const connect = (server: SpawnedServer) => processes.connect(server.url, { transport: "connect", timeoutMs: CALL_TIMEOUT_MS, bearerToken: OWNER });
  const balanceOf = async (ctx: ExternalContext, id: string) => (await Account.ref(id).balance(ctx)).balance;
  const sendWrite = async (ctx: ExternalContext, w: Write) => {
    if (w.kind === "deposit") return (await Account.ref(w.account).idempotently({ key: w.key }).deposit(ctx, { amount: 1n })).balance;
    await Account.ref(w.from).idempotently({ key: w.key }).transfer(ctx, { to: w.to, amount: 1n });
    return undefined;
  };

  it("holds every write acknowledged before the backup, once; workflows resume", async () => {
    const dataDir = await processes.tempDataDir("cairn-backup-live-");
    const copyDir = join(await processes.tempDataDir("cairn-backup-dest-"), "copy");
    const server = await processes.spawn({ dataDir, port: await freePort() });
    const ctx = connect(server);
    for (let i = 0; i < DEPOSIT_ACCOUNTS; i++) await Account.create(ctx, depositAccount(i), { owner: "ann" });
    for (let i = 0; i < TRANSFER_ACCOUNTS; i++) await Account.create(ctx, transferAccount(i), { owner: "ann", initial: TRANSFER_INITIAL });
    const tasks: string[] = [];
    for (let i = 0; i < WORKFLOWS; i++) {
      await Account.create(ctx, workflowAccount(i), { owner: "ann", initial: 10_000n });
      // Waits for approval, which comes only on the restored server.
      const task = Account.ref(workflowAccount(i)).spawn().accrueInterest(ctx, { rateBps: 100n, periods: 1, ledgerUrl });
      await task.started; // stored before the backup copies it
      tasks.push(task.taskId);
    }

    // The load: keyed writes, each recorded before it is sent, marked acked on its answer.
    const writes: Write[] = [];
    let acks = 0;
    let killed = false;
    const errors: unknown[] = [];
    const worker = async () => {
      while (!killed && writes.length < MAX_ATTEMPTS) {
        const n = writes.length;
        const w: Write =
          n % 2 === 0
            ? { kind: "deposit", key: `d${n}`, account: depositAccount((n / 2) % DEPOSIT_ACCOUNTS) }
            : { kind: "transfer", key: `t${n}`, from: transferAccount(2 * pair(n)), to: transferAccount(2 * pair(n) + 1) };
        writes.push(w);
        try {
          const answer = await sendWrite(ctx, w);
          w.acked = w.kind === "deposit" ? answer! : true;
          acks++;
        } catch (e) {
          if (!killed) errors.push(e);
          return;
        }
      }
    };
    const load = Promise.all(Array.from({ length: IN_FLIGHT }, worker));

    await waitFor(() => acks >= ACKS_BEFORE_BACKUP || errors.length > 0, "the load to make progress", CALL_TIMEOUT_MS);
    // The cut: whatever is acknowledged now was acknowledged before the backup began.
    for (const w of writes) w.beforeBackup = w.acked !== undefined;
    const acksAtBackup = acks;
    const backup = await runCli(["backup", copyDir], { env: { CAIRN_URL: server.url, CAIRN_TOKEN: ADMIN }, timeoutMs: 180_000 });
    expect(backup.stderr).toBe("");
    expect(backup.code).toBe(0);
    expect(backup.stdout).toContain(join(copyDir, "data.mdb"));
    const acksDuringBackup = acks - acksAtBackup;
    await waitFor(() => acks >= acksAtBackup + acksDuringBackup + ACKS_AFTER_BACKUP || errors.length > 0, "more writes after the backup", CALL_TIMEOUT_MS);
    killed = true;
    await killHard(server);
    await within(CALL_TIMEOUT_MS + 5_000, "writes in flight to settle after the kill", load);
    expect(errors, "no write failed before the kill").toEqual([]);
    expect(acksDuringBackup, "the server kept acknowledging writes while it copied").toBeGreaterThan(0);

    // A new server on the copy.
    const restored = await processes.spawn({ dataDir: copyDir, port: await freePort() });
    const rctx = connect(restored);
    const pre = writes.filter((w) => w.beforeBackup);
    const deposits = pre.filter((w) => w.kind === "deposit");
    const balancesOf = (ids: string[]) => Promise.all(ids.map((id) => balanceOf(rctx, id)));
    const depositIds = Array.from({ length: DEPOSIT_ACCOUNTS }, (_, i) => depositAccount(i));
    const transferIds = Array.from({ length: TRANSFER_ACCOUNTS }, (_, i) => transferAccount(i));
    const depositBalances = await balancesOf(depositIds);
    const transferBalances = await balancesOf(transferIds);
    console.log(
      `backup: ${writes.length} writes attempted, ${acks} acknowledged (${acksAtBackup} before the backup, ${acksDuringBackup} while it ran); ` +
        `the copy holds ${depositBalances.reduce((s, b) => s + b, 0n)} deposits`,
    );
    expect(transferBalances.reduce((s, b) => s + b, 0n), "transfers conserve the total").toBe(TRANSFER_INITIAL * BigInt(TRANSFER_ACCOUNTS));
    for (let i = 0; i < DEPOSIT_ACCOUNTS; i++) {
      const acked = deposits.filter((w) => w.account === depositIds[i]).length;
      expect(Number(depositBalances[i]), `${depositIds[i]} holds its acknowledged deposits`).toBeGreaterThanOrEqual(acked);
    }
    // Re-sending the acknowledged writes replays each stored answer and moves nothing.
    for (const w of pre) {
      const answer = await sendWrite(rctx, w);
      if (w.kind === "deposit") expect(answer, `replay of ${w.key}`).toBe(w.acked);
    }
    expect(await balancesOf(depositIds), "no acknowledged deposit was missing").toEqual(depositBalances);
    expect(await balancesOf(transferIds), "no acknowledged transfer was missing").toEqual(transferBalances);

    // The workflows in the copy resume: approved now, each completes once.
    for (let i = 0; i < WORKFLOWS; i++) await Account.ref(workflowAccount(i)).approveInterest(rctx);
    const restoredTasks = tasksClient(restored.url, ADMIN);
    for (const taskId of tasks) {
      const done = await within(CALL_TIMEOUT_MS, `task ${taskId} to end`, restoredTasks.wait({ taskId }));
      expect(done.status, `task ${taskId}`).toBe(TaskStatus.COMPLETED);
    }
    expect(await balancesOf(Array.from({ length: WORKFLOWS }, (_, i) => workflowAccount(i)))).toEqual(Array(WORKFLOWS).fill(10_100n));
    expect(receipts).toBe(WORKFLOWS);
  });

  it("copies a stopped server's data directory with --data-dir", async () => {
    const dataDir = await processes.tempDataDir("cairn-backup-stopped-");
    const server = await processes.spawn({ dataDir, port: await freePort() });
    const ctx = connect(server);
    for (let i = 0; i < 3; i++) await Account.create(ctx, depositAccount(i), { owner: "ann", initial: BigInt(i) });
    await killHard(server);
    const copyDir = join(await processes.tempDataDir("cairn-backup-dest-"), "copy");
    const copied = await runCli(["backup", "--data-dir", dataDir, copyDir]);
    expect(copied.stderr).toBe("");
    expect(copied.code).toBe(0);
    const restored = await processes.spawn({ dataDir: copyDir, port: await freePort() });
    const rctx = connect(restored);
    expect(await Promise.all([0, 1, 2].map((i) => balanceOf(rctx, depositAccount(i))))).toEqual([0n, 1n, 2n]);
  });
});
