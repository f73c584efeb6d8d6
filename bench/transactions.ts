/**
 * The `transaction` scenario of `npm run bench` (run it alone with
 * BENCH_ONLY=transaction): transfers between random pairs of 1,000 accounts
 * (a transaction locking two actors, one atomic commit of both) against
 * single-actor writers (a deposit on a random account of the same 1,000),
 * measured in the same run in alternating slices with the trivial Connect
 * baseline, all at 64 in flight over 127.0.0.1 against the server child.
 *
 * Target: transaction throughput >= 0.5x the writer's.
 *
 * The bank's authorizer lets only an account's owner transfer out of it, so
 * every account here has the same owner and both sides call with that
 * owner's HMAC token (bench/server.ts verifies it): the same client, token
 * and verification cost on both sides.
 *
 * After the load: the total balance must be exactly what was opened plus
 * the acknowledged deposits (transfers move money, never make or lose it).
 */
import { ExternalContext, signHmacToken } from "../src/index.js";
import { Account, TransferAborted } from "../generated/bank/v1/account_cairn.js";
import { BANK_TOKEN_SECRET } from "../examples/bank/servicer.js";
import type { ServerChild } from "./child.js";
import { round, runLoad } from "./load.js";
import type { Measured, Side } from "./run.js";

const ACCOUNTS = 1_000;
const INITIAL = 1_000_000_000n;
const OWNER = "bench-owner";
const accountId = (n: number): string => `txn-acct-${n}`;

export interface TransactionBenchDeps {
  readonly server: ServerChild;
  readonly url: string;
  readonly baselineSide: Side;
  readonly measureInterleaved: (sides: readonly Side[]) => Promise<Measured[]>;
  readonly line: (
    scenario: string,
    m: Measured,
    baseline: Measured | undefined,
    target: { text: string; minRatio: number },
    extra?: Record<string, unknown>,
    extraOk?: boolean,
  ) => object;
  readonly log: (s: string) => void;
}

/** xorshift32: cheap, deterministic pair choice that does not cost the client much. */
function pairs(seed: number): () => [number, number] {
  let x = seed >>> 0 || 1;
  const next = (): number => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  return () => {
    const from = next() % ACCOUNTS;
    const to = (from + 1 + (next() % (ACCOUNTS - 1))) % ACCOUNTS;
    return [from, to];
  };
}

export async function measureTransactions(d: TransactionBenchDeps): Promise<object> {
  const ctx = new ExternalContext({ url: d.url, timeoutMs: 30_000, bearerToken: signHmacToken({ sub: OWNER }, BANK_TOKEN_SECRET) });
  try {
    d.log(`transaction: opening ${ACCOUNTS} accounts with ${INITIAL} each`);
    const opened = await runLoad({
      inFlight: 64,
      warmupSeconds: 0,
      seconds: 60,
      maxCalls: ACCOUNTS,
      call: (i) => Account.create(ctx, accountId(i), { owner: OWNER, initial: INITIAL }),
    });
    if (opened.calls !== ACCOUNTS || opened.errors > 0) {
      throw new Error(`opened ${opened.calls - opened.errors}/${ACCOUNTS} accounts: ${opened.firstError ?? "out of time"}`);
    }

    let deposited = 0n;
    let overdrafts = 0;
    const pick = pairs(0x9e3779b9);
    const transfer = async (): Promise<void> => {
      const [from, to] = pick();
      try {
        await Account.ref(accountId(from)).transfer(ctx, { to: accountId(to), amount: 1n });
      } catch (e) {
        if (e instanceof TransferAborted) overdrafts++; // cannot happen with these balances; counted, reported
        throw e;
      }
    };
    const deposit = async (n: number): Promise<void> => {
      await Account.ref(accountId((n * 7919) % ACCOUNTS)).deposit(ctx, { amount: 1n });
      deposited += 1n;
    };
    const [txn, writer, baseline] = (await d.measureInterleaved([
      { name: "transaction", server: d.server, call: transfer },
      { name: "writer (deposit, same accounts)", server: d.server, call: deposit },
      d.baselineSide,
    ])) as [Measured, Measured, Measured];

    const balances = await Promise.all(
      Array.from({ length: ACCOUNTS }, async (_, i) => (await Account.ref(accountId(i)).balance(ctx)).balance),
    );
    const total = balances.reduce((s, b) => s + b, 0n);
    const expectedTotal = INITIAL * BigInt(ACCOUNTS) + deposited;
    const conserved = total === expectedTotal;
    const vsWriterRatio = round(txn.throughput / writer.throughput, 3);
    const out = d.line(
      "transaction",
      txn,
      baseline,
      { text: ">= 0.5x writer (deposit on random accounts) throughput, measured in the same run", minRatio: 0 },
      {
        writerThroughput: writer.throughput,
        writerP50Ms: writer.p50Ms,
        writerP99Ms: writer.p99Ms,
        writerErrors: writer.errors,
        vsWriterRatio,
        vsWriterP99Ratio: round(txn.p99Ms / writer.p99Ms, 3),
        accounts: ACCOUNTS,
        overdrafts,
        totalConserved: conserved,
      },
    );
    // The target is relative to the writer, not to the trivial handler: no p99 bound against the baseline.
    return { ...out, meetsTarget: txn.errors === 0 && writer.errors === 0 && vsWriterRatio >= 0.5 && conserved };
  } finally {
    ctx.close();
  }
}
