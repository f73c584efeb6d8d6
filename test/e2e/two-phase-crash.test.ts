// Two-phase commit's recovery (DESIGN.md §9) with real processes: a server
// of 8 partitions SIGKILLs itself at a crash point of a transfer between
// accounts of two partitions (the test-only CAIRN_TEST_CRASH_AT hook), and
// is restarted on the same data directory:
//
// - after every prepare, before the decision: no decision means abort;
// - after the decision, before the participant applied: committed, applied
//   by recovery;
// - right after the participant's prepare: the participant re-locks its
//   actor at the restart, asks the coordinator, hears abort.
//
// After each: the total is conserved, no prepared record or decision is
// left, a later writer on either actor succeeds (nothing stays locked), and
// the transfer's idempotency key answers as the outcome says: replayed once
// committed, run again (and applied once) after an abort.
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it, vi } from "vitest";
import { Account } from "../../generated/bank/v1/account_cairn.js";
import { partitionOf } from "../../src/api/partition.js";
import { eventually } from "../fixtures/waiting.js";
import { peekTwoPhase } from "../fixtures/two-phase-peek.js";
import { ServerProcesses, freePort, within } from "./helpers.js";

vi.setConfig({ testTimeout: 240_000, hookTimeout: 240_000 });

const N = 8;
const SCRIPT = fileURLToPath(new URL("../fixtures/bank-dev-server.ts", import.meta.url));

function idOn(partition: number, prefix: string): string {
  for (let i = 0; ; i++) {
    const id = `${prefix}-${i}`;
    if (partitionOf("bank.v1.Account", id, N) === partition) return id;
  }
}

const cases = [
  { point: "after-prepare", committed: false },
  { point: "after-decision", committed: true },
  { point: "participant-after-prepare", committed: false },
] as const;

describe("two-phase commit recovers from a SIGKILL at each crash point", () => {
  const procs = new ServerProcesses();
  afterAll(() => procs.close());

  it.each(cases)("$point: committed=$committed, total conserved, nothing left locked or prepared", async ({ point, committed }) => {
    const dataDir = await procs.tempDataDir("cairn-2pc-crash-");
    const port = await freePort();
    const env = { CAIRN_PARTITIONS: String(N) };
    const from = idOn(1, "from");
    const to = idOn(6, "to");

    const doomed = await procs.spawn({ dataDir, port, script: SCRIPT, env: { ...env, CAIRN_TEST_CRASH_AT: point } });
    const first = procs.connect(doomed.url, { transport: "connect", timeoutMs: 60_000 });
    await Account.create(first, from, { owner: from, initial: 100n });
    await Account.create(first, to, { owner: to, initial: 0n });
    const keyed = (c: typeof first) => Account.ref(from).idempotently({ key: `crash-${point}` }).transfer(c, { to, amount: 10n });
    await expect(keyed(first)).rejects.toThrow();
    expect((await within(60_000, "the server's SIGKILL", doomed.exited)).signal).toBe("SIGKILL");

    const server = await procs.spawn({ dataDir, port, script: SCRIPT, env });
    const c = procs.connect(server.url, { transport: "connect", timeoutMs: 60_000 });
    const balances = async () => [(await Account.ref(from).balance(c)).balance, (await Account.ref(to).balance(c)).balance];
    // Recovery resolves the prepared transfer in the background: its actors are locked until then.
    await eventually(async () => (await peekTwoPhase(dataDir)).prepared === 0, 60_000, "the prepared record resolved");
    expect(await balances()).toEqual(committed ? [90n, 10n] : [100n, 0n]);
    // Writers on both actors get through, within a bound.
    await within(30_000, "a writer on each actor", Promise.all([Account.ref(from).deposit(c, { amount: 1n }), Account.ref(to).deposit(c, { amount: 1n })]));
    expect(await balances()).toEqual(committed ? [91n, 11n] : [101n, 1n]);
    // The key: a committed transfer replays; an aborted one left no record and runs now, once.
    await keyed(c);
    await keyed(c);
    expect(await balances()).toEqual([91n, 11n]);
    await eventually(async () => JSON.stringify(await peekTwoPhase(dataDir)) === JSON.stringify({ prepared: 0, decisions: 0 }), 60_000, "no two-phase record left");
  });
});
