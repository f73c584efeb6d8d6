// Crash test: a real server process is SIGKILLed in the middle of a load of
// idempotent deposits, then restarted on the same data dir. Checks the
// durability promises of DESIGN.md §3, §4 and §8 from the outside:
//
// - no acknowledged write is lost (balance >= acked deposits per account);
// - nothing is invented (balance <= attempted deposits);
// - nothing is half-applied: state and idempotency record commit together, so
//   re-sending every attempted key applies each exactly once overall. The
//   acknowledged keys replay their acknowledged answer, and since every
//   deposit adds 1 to a serially written balance starting at 0, the answers to
//   all keys of an account are exactly 1..attempted (a permutation): a key
//   applied twice, or a replayed answer without its effect, breaks that.
//
// What SIGKILL can and cannot show: it kills the process, not the machine,
// so whatever the server handed to the kernel survives it even without an
// fsync. Deterministically, this test catches lost or separately committed
// idempotency records and double application on retry (the re-send phase).
// A reply sent before its LMDB commit is caught only when a kill lands in
// that window, so the test crashes the server CYCLES times and kills from
// the client's first acknowledgement after the load period; against a store
// patched to acknowledge before committing it failed in about one run in
// five. It cannot tell an fsync'd commit from an un-fsync'd one: that needs
// a power-loss simulation, not a killed process.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { ExternalContext } from "@cairn-dev/cairn";
import { Account } from "../../generated/bank/v1/account_cairn.js";
import {
  forEachLimit,
  freePort,
  ServerProcesses,
  stopServer,
  within,
  type SpawnedServer,
} from "./helpers.js";

// Server processes with both cores busy: deadlines bound hangs, they never decide a passing test.
vi.setConfig({ testTimeout: 480_000, hookTimeout: 240_000 });

const ACCOUNTS = 20;
const IN_FLIGHT = 64;
/** Load, SIGKILL, restart: this many times on the same data dir. */
const CYCLES = 4;
const LOAD_MS = 1_500;
/** A cycle's load stops at whichever comes first: LOAD_MS, MAX_ACKS or MAX_ATTEMPTS. */
const MAX_ACKS = 10_000;
const MAX_ATTEMPTS = 20_000;
const CALL_TIMEOUT_MS = 60_000;

interface Attempt {
  readonly key: string;
  readonly account: number;
  /** The balance the server acknowledged for this deposit, if it did. */
  acked?: bigint;
}

describe("crash: SIGKILL mid-load, restart on the same data dir", () => {
  const processes = new ServerProcesses();
  let dataDir = "";
  let port = 0;

  beforeAll(async () => {
    dataDir = await processes.tempDataDir("cairn-crash-");
    port = await freePort();
  });
  afterAll(() => processes.close());

  const start = () => processes.spawn({ dataDir, port });
  const connect = (url: string) => processes.connect(url, { transport: "connect", timeoutMs: CALL_TIMEOUT_MS });
  const accountId = (i: number) => `crash-${i}`;

  /**
   * One cycle: IN_FLIGHT workers, each sending one idempotent deposit of 1 at
   * a time, round-robin over the accounts; then SIGKILL with requests in
   * flight. An attempt is recorded before it is sent and marked acked only
   * when its response arrived. Odd cycles kill synchronously from the first
   * acknowledgement after LOAD_MS: a server that acknowledged before its
   * commit landed has the least time to catch up then. Even cycles kill from
   * a timer at LOAD_MS plus a random 0-200 ms, so the kill lands anywhere in
   * a group commit, usually with requests inside the server.
   */
  const loadThenKill = async (server: SpawnedServer, cycle: number, attempts: Attempt[]) => {
    const ctx = connect(server.url);
    let seq = 0;
    let acks = 0;
    let inFlight = 0;
    let killed = false;
    const stats = { attempted: 0, acked: 0, ackedAtKill: 0, inFlightAtKill: 0, failedByKill: 0 };
    const errorsBeforeKill: unknown[] = [];
    let onKilled!: () => void;
    const killedNow = new Promise<void>((resolve) => (onKilled = resolve));
    const killServer = () => {
      if (killed) return;
      killed = true;
      stats.inFlightAtKill = inFlight;
      stats.ackedAtKill = acks;
      server.kill("SIGKILL");
      onKilled();
    };
    const loadStart = Date.now();
    const killOnAck = cycle % 2 === 1;
    const loadIsOver = () => Date.now() - loadStart >= LOAD_MS || acks >= MAX_ACKS || seq >= MAX_ATTEMPTS;
    const worker = async () => {
      while (!killed && seq < MAX_ATTEMPTS) {
        const n = seq++;
        const attempt: Attempt = { key: `crash-${cycle}-${n}`, account: n % ACCOUNTS };
        attempts.push(attempt);
        inFlight++;
        try {
          const r = await Account.ref(accountId(attempt.account))
            .idempotently({ key: attempt.key })
            .deposit(ctx, { amount: 1n });
          inFlight--;
          // A response that raced the kill is still an acknowledgement.
          attempt.acked = r.balance;
          acks++;
          if ((killOnAck && loadIsOver()) || killDue) killServer();
        } catch (e) {
          inFlight--;
          if (killed) stats.failedByKill++;
          else {
            errorsBeforeKill.push(e);
            killServer(); // fail fast; the assertion below reports it
          }
          return; // the server is gone (or failed): this worker is done
        }
      }
    };
    const workers = Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    // The kill waits for the load to have made progress (an acknowledgement):
    // a loaded machine may take longer than LOAD_MS for the first one.
    let killDue = false;
    const timer = killOnAck
      ? setTimeout(killServer, LOAD_MS + CALL_TIMEOUT_MS) // if acknowledgements stop coming
      : setTimeout(() => ((killDue = true), acks > 0 && killServer()), LOAD_MS + Math.floor(Math.random() * 200));
    await killedNow;
    clearTimeout(timer);
    expect(errorsBeforeKill, "no deposit may fail before the kill").toEqual([]);
    const exit = await within(30_000, "exit after SIGKILL", server.exited);
    expect(exit.signal).toBe("SIGKILL");
    await within(CALL_TIMEOUT_MS + 5_000, "in-flight deposits to settle after the kill", workers);
    ctx.close();
    stats.attempted = seq;
    stats.acked = acks;
    expect(stats.ackedAtKill, "the load made progress before the kill").toBeGreaterThan(0);
    expect(stats.inFlightAtKill, "requests were in flight at the kill").toBeGreaterThan(0);
    return stats;
  };

  const balances = (ctx: ExternalContext) =>
    Promise.all(
      Array.from({ length: ACCOUNTS }, async (_, i) => (await Account.ref(accountId(i)).balance(ctx)).balance),
    );

  it("loses no acknowledged deposit and applies every attempted key exactly once", async () => {
    // A server with ACCOUNTS empty accounts.
    let server = await start();
    const setup = connect(server.url);
    await Promise.all(
      Array.from({ length: ACCOUNTS }, (_, i) => Account.create(setup, accountId(i), { owner: `owner ${i}` })),
    );
    setup.close();

    const attempts: Attempt[] = [];
    let ctx!: ExternalContext;
    let found: bigint[] = [];
    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      const stats = await loadThenKill(server, cycle, attempts);

      // Restart on the same data dir and port; check the bounds per account.
      server = await start();
      ctx = connect(server.url);
      found = await balances(ctx);
      const attempted = new Array<number>(ACCOUNTS).fill(0);
      const acked = new Array<number>(ACCOUNTS).fill(0);
      for (const a of attempts) {
        attempted[a.account]!++;
        if (a.acked !== undefined) acked[a.account]!++;
      }
      const sum = (xs: readonly (number | bigint)[]) => xs.reduce<number>((s, x) => s + Number(x), 0);
      console.log(
        `crash cycle ${cycle} (kill ${cycle % 2 === 1 ? "on an ack" : "on a timer"}): ${stats.attempted} deposits attempted, ${stats.acked} acknowledged ` +
          `(${stats.ackedAtKill} at the kill, ${stats.inFlightAtKill} in flight, ${stats.failedByKill} failed by it); ` +
          `all cycles: ${sum(attempted)} attempted, ${sum(acked)} acked, ${sum(found)} found after restart`,
      );
      for (let i = 0; i < ACCOUNTS; i++) {
        const balance = Number(found[i]);
        expect(balance, `cycle ${cycle}, account ${i}: no acknowledged deposit lost`).toBeGreaterThanOrEqual(acked[i]!);
        expect(balance, `cycle ${cycle}, account ${i}: no deposit invented`).toBeLessThanOrEqual(attempted[i]!);
      }
      if (cycle < CYCLES) ctx.close();
    }

    // Re-send every attempted key: acknowledged ones first (each must replay
    // its acknowledged answer), then the rest (replayed if applied before a
    // crash, applied now otherwise).
    const answers: bigint[][] = Array.from({ length: ACCOUNTS }, () => []);
    const mismatches: string[] = [];
    const resend = async (a: Attempt) => {
      const r = await Account.ref(accountId(a.account)).idempotently({ key: a.key }).deposit(ctx, { amount: 1n });
      answers[a.account]!.push(r.balance);
      if (a.acked !== undefined && r.balance !== a.acked) {
        mismatches.push(`${a.key}: acknowledged balance ${a.acked}, replayed ${r.balance}`);
      }
    };
    await within(
      240_000,
      "re-sending every attempted key",
      (async () => {
        await forEachLimit(
          attempts.filter((a) => a.acked !== undefined),
          IN_FLIGHT,
          resend,
        );
        await forEachLimit(
          attempts.filter((a) => a.acked === undefined),
          IN_FLIGHT,
          resend,
        );
      })(),
    );
    expect(mismatches.slice(0, 10), "acknowledged keys replay their acknowledged answer").toEqual([]);

    const attempted = new Array<number>(ACCOUNTS).fill(0);
    for (const a of attempts) attempted[a.account]!++;
    let appliedNow = 0;
    for (let i = 0; i < ACCOUNTS; i++) {
      const sorted = answers[i]!.map(Number).sort((x, y) => x - y);
      const expected = Array.from({ length: attempted[i]! }, (_, k) => k + 1);
      expect(sorted, `account ${i}: each key applied exactly once (answers are 1..attempted)`).toEqual(expected);
      appliedNow += sorted.filter((b) => b > Number(found[i])).length;
    }
    const final = await balances(ctx);
    for (let i = 0; i < ACCOUNTS; i++) {
      expect(final[i], `account ${i}: final balance equals attempted deposits`).toBe(BigInt(attempted[i]!));
    }
    console.log(
      `crash test: re-sent all ${attempts.length} attempted keys: ${attempts.length - appliedNow} replayed, ` +
        `${appliedNow} applied now; final total ${final.reduce((s, b) => s + Number(b), 0)}`,
    );

    // A clean stop.
    ctx.close();
    const stopped = await stopServer(server);
    expect(stopped.code).toBe(0);
  });
});
