// The bank example's client: drives a running bank server through the
// generated, typed references.
//
//   npx tsx examples/bank/client.ts [URL | --url URL]     (default CAIRN_URL, else http://127.0.0.1:9991)
//
// Account ids carry a unique suffix, so it can run again and again against
// the same data dir.
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";
import { Code, ConnectError, ExternalContext, signHmacToken, type TransportKind } from "@cairn-dev/cairn";
import { Account, WithdrawAborted, type AccountRef } from "../../generated/bank/v1/account_cairn.js";
import { BANK_TOKEN_SECRET } from "./servicer.js";
import { clientArgs } from "../client-args.js";

function check(ok: boolean, what: string): asserts ok {
  if (!ok) throw new Error(`bank example: expected ${what}`);
}

/** Runs the whole tour against `url`; throws on the first surprise. */
export async function driveBank(url: string, log: (line: string) => void = console.log): Promise<void> {
  const suffix = `${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
  const aliceId = `alice-${suffix}`;
  const bobId = `bob-${suffix}`;
  const ctx = new ExternalContext({ url, transport: "connect", timeoutMs: 10_000 });
  try {
    // Constructors create actors; every other method needs one to exist.
    const [alice] = await Account.create(ctx, aliceId, { owner: "alice", initial: 100n });
    log(`open      ${aliceId}: owner alice, initial 100`);
    const bob = Account.ref(bobId);
    await bob.open(ctx, { owner: "bob", initial: 20n });
    log(`open      ${bobId}: owner bob, initial 20`);

    try {
      await alice.open(ctx, { owner: "mallory" });
      check(false, "a second open to fail with ALREADY_EXISTS");
    } catch (e) {
      check(e instanceof ConnectError && e.code === Code.AlreadyExists, `ALREADY_EXISTS, got ${String(e)}`);
      log(`open      ${aliceId} again: ALREADY_EXISTS, as it should`);
    }

    const deposited = await alice.deposit(ctx, { amount: 50n });
    check(deposited.balance === 150n, `alice at 150 after depositing 50, got ${deposited.balance}`);
    log(`deposit   ${aliceId} +50: balance ${deposited.balance}`);

    const a = await alice.balance(ctx);
    const b = await bob.balance(ctx);
    check(a.balance === 150n && b.balance === 20n, `balances 150 and 20, got ${a.balance} and ${b.balance}`);
    log(`balance   ${aliceId} (${a.owner}): ${a.balance}; ${bobId} (${b.owner}): ${b.balance}`);

    // Only an account's owner may withdraw: the authorizer checks the
    // `sub` claim of the caller's signed bearer token.
    const asBob = new ExternalContext({ url, bearerToken: signHmacToken({ sub: "bob" }, BANK_TOKEN_SECRET) });
    const asAlice = new ExternalContext({ url, bearerToken: signHmacToken({ sub: "alice" }, BANK_TOKEN_SECRET) });
    try {
      for (const [who, as, code] of [
        ["no token", ctx, Code.Unauthenticated],
        ["alice's token", asAlice, Code.PermissionDenied],
      ] as const) {
        const denied = await bob.withdraw(as, { amount: 1n }).catch((e: unknown) => ConnectError.from(e));
        check(denied instanceof ConnectError && denied.code === code, `${Code[code]} for ${who}, got ${String(denied)}`);
        log(`withdraw  ${bobId} -1 with ${who}: ${Code[code]}`);
      }
      await bobWithdrawals(bob, asBob, log);
    } finally {
      asBob.close();
      asAlice.close();
    }

    // The same idempotency key twice: the second call replays the first answer.
    const key = `bonus-${suffix}`;
    const first = await alice.idempotently({ key }).deposit(ctx, { amount: 7n });
    const retry = await alice.idempotently({ key }).deposit(ctx, { amount: 7n });
    const afterRetry = await alice.balance(ctx);
    check(first.balance === 157n, `alice at 157 after the bonus, got ${first.balance}`);
    check(retry.balance === first.balance, `the retry to replay balance ${first.balance}, got ${retry.balance}`);
    check(afterRetry.balance === 157n, `alice credited once (157), got ${afterRetry.balance}`);
    log(
      `deposit   ${aliceId} +7 with key ${key}, twice: answers ${first.balance} and ${retry.balance}; ` +
        `balance ${afterRetry.balance} (applied once)`,
    );

    // Every method is served over Connect, gRPC and gRPC-Web on the same port.
    let expected = afterRetry.balance;
    for (const transport of ["connect", "grpc", "grpc-web"] satisfies TransportKind[]) {
      const over = new ExternalContext({ url, transport, timeoutMs: 10_000 });
      try {
        const r = await Account.ref(aliceId).deposit(over, { amount: 1n });
        const { balance } = await Account.ref(aliceId).balance(over);
        expected += 1n;
        check(r.balance === expected && balance === expected, `alice at ${expected} over ${transport}`);
        log(`${transport.padEnd(9)} ${aliceId} +1: balance ${balance}`);
      } finally {
        over.close();
      }
    }

    await accrueInterestTour(ctx, aliceId, log);
  } finally {
    ctx.close();
  }
}

/** Bob, with his own token: a declared error, then a withdrawal. */
async function bobWithdrawals(bob: AccountRef, asBob: ExternalContext, log: (line: string) => void) {
  const bobId = bob.id;
  // A declared error arrives as the method's typed …Aborted.
  try {
    await bob.withdraw(asBob, { amount: 500n });
    check(false, "withdrawing 500 from bob to fail");
  } catch (e) {
    if (!(e instanceof WithdrawAborted)) throw e;
    check(e.error.shortBy === 480n, `shortBy 480, got ${e.error.shortBy}`);
    log(`withdraw  ${bobId} -500: WithdrawAborted, shortBy ${e.error.shortBy} ("${e.message}")`);
  }
  const afterAbort = await bob.balance(asBob);
  check(afterAbort.balance === 20n, `bob untouched at 20 after the abort, got ${afterAbort.balance}`);
  log(`balance   ${bobId}: ${afterAbort.balance} (the aborted withdrawal changed nothing)`);

  const withdrawn = await bob.withdraw(asBob, { amount: 5n });
  check(withdrawn.balance === 15n, `bob at 15 after withdrawing 5, got ${withdrawn.balance}`);
  log(`withdraw  ${bobId} -5: balance ${withdrawn.balance}`);
}

/**
 * The workflow: accrue 1% interest three times, 150 ms apart, once the
 * account is approved; each period notifies a ledger (a local fake HTTP
 * service) at most once.
 */
async function accrueInterestTour(ctx: ExternalContext, accountId: string, log: (line: string) => void) {
  const ledgerCalls: string[] = [];
  const ledger = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      ledgerCalls.push(body);
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ receipt: `r${ledgerCalls.length}` }));
    });
  });
  await new Promise<void>((resolve) => ledger.listen(0, "127.0.0.1", resolve));
  try {
    const { port } = ledger.address() as AddressInfo;
    const account = Account.ref(accountId);
    const before = (await account.balance(ctx)).balance;
    const task = account.spawn().accrueInterest(ctx, {
      rateBps: 100n,
      periods: 3,
      periodMs: 150n,
      ledgerUrl: `http://127.0.0.1:${port}/ledger`,
    });
    await task.started;
    log(`workflow  accrueInterest on ${accountId}: task ${task.taskId}, waiting for approval`);
    await new Promise((r) => setTimeout(r, 300));
    check(ledgerCalls.length === 0, `no ledger call before approval, got ${ledgerCalls.length}`);
    log(`workflow  300 ms later: still waiting in until("approved"), ledger called ${ledgerCalls.length} times`);
    await account.approveInterest(ctx, {});
    log(`approve   ${accountId}: interest approved`);
    const done = await task;
    let expected = before;
    for (let i = 0; i < 3; i++) expected += expected / 100n;
    check(done.balance === expected, `balance ${expected} after 3 periods of 1%, got ${done.balance}`);
    const calls = ledgerCalls.length as number; // the workflow pushed to it meanwhile
    check(calls === 3, `3 ledger calls, got ${calls}`);
    log(`workflow  done: balance ${before} -> ${done.balance} over 3 periods; receipts ${done.receipts.join(", ")}`);
  } finally {
    ledger.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { url } = clientArgs(process.argv.slice(2), "npx tsx examples/bank/client.ts [URL | --url URL]");
  driveBank(url).then(
    () => console.log("bank example: all steps passed"),
    (e: unknown) => {
      console.error(`bank example: ${e instanceof Error ? e.message : String(e)}`);
      process.exitCode = 1;
    },
  );
}
