// Core actor semantics over the network: a real server, real LMDB files,
// real clients (DESIGN.md §3-4).
import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Authorizer, Code, allow, type ReaderContext, type WriterContext } from "@cairn-dev/cairn";
import { TestApplication } from "@cairn-dev/cairn/testing";
import { Account, WithdrawAborted } from "../generated/bank/v1/account_cairn.js";
import { OverdraftErrorSchema, type Account as AccountState } from "../generated/bank/v1/account_pb.js";
import type { DepositRequest, WithdrawRequest } from "../generated/bank/v1/account_pb.js";
import { AccountServicerImpl } from "../examples/bank/servicer.js";
import { PATIENCE_MS } from "./fixtures/waiting.js";
import { codeOf } from "./fixtures/call-outcome.js";

/** Counts handler runs and adds misbehaviour on request, for the tests below. */
const runs = { deposit: 0 };
let releaseSlowWriter: (() => void) | undefined;

class InstrumentedAccount extends AccountServicerImpl {
  // These tests are about actor semantics; authorization has its own.
  override authorizer() {
    return new Authorizer<AccountState>({ default: allow() });
  }

  override async deposit(ctx: WriterContext, state: AccountState, req: DepositRequest) {
    runs.deposit++;
    if (req.amount === 777n) {
      // A slow writer: holds the actor's writer queue until released.
      state.balance += req.amount;
      await new Promise<void>((resolve) => (releaseSlowWriter = resolve));
    }
    return super.deposit(ctx, state, req);
  }

  override async withdraw(ctx: WriterContext, state: AccountState, req: WithdrawRequest) {
    if (req.amount === 13n) {
      state.balance = -1n; // must never be persisted
      throw new Error("unlucky amount");
    }
    if (req.amount === 14n) {
      state.balance = -1n; // must never be persisted
      throw new WithdrawAborted(create(OverdraftErrorSchema, { shortBy: 14n }), "declared, after mutating");
    }
    return super.withdraw(ctx, state, req);
  }

  override async balance(ctx: ReaderContext, state: Readonly<AccountState>, req: object) {
    return super.balance(ctx, state, req as never);
  }
}

let app: TestApplication;

beforeAll(async () => {
  app = await TestApplication.start({ servicers: [InstrumentedAccount] });
});
afterAll(async () => {
  await app?.stop();
});

describe("writers", () => {
  // 1,000 durable writes: with both cores busy they take tens of seconds; the deadline bounds a hang.
  it("serialises 1,000 concurrent deposits on one actor", { timeout: 240_000 }, async () => {
    const ctx = app.context();
    const [ref] = await Account.create(ctx, "hot", { owner: "ann" });
    await Promise.all(Array.from({ length: 1000 }, () => ref.deposit(ctx, { amount: 1n })));
    expect((await ref.balance(ctx)).balance).toBe(1000n);
  });

  it("runs writers in arrival order", async () => {
    const ctx = app.context();
    const [ref] = await Account.create(ctx, "ordered", { owner: "ann" });
    const balances = await Promise.all(Array.from({ length: 50 }, () => ref.deposit(ctx, { amount: 1n })));
    // Calls sent in order over one HTTP/2 connection see balances 1..50 in order.
    expect(balances.map((b) => b.balance)).toEqual(Array.from({ length: 50 }, (_, i) => BigInt(i + 1)));
  });

  it("does not block readers behind a slow writer", async () => {
    const ctx = app.context();
    const [ref] = await Account.create(ctx, "slow", { owner: "ann", initial: 5n });
    const slow = ref.deposit(ctx, { amount: 777n });
    await expect.poll(() => releaseSlowWriter !== undefined, { timeout: PATIENCE_MS }).toBe(true);
    // The writer is still running: readers answer from the last durable state.
    const reads = await Promise.all(Array.from({ length: 20 }, () => ref.balance(ctx)));
    expect(reads.every((r) => r.balance === 5n)).toBe(true);
    releaseSlowWriter?.();
    expect((await slow).balance).toBe(5n + 777n + 777n);
    expect((await ref.balance(ctx)).balance).toBe(5n + 777n + 777n);
  });
});

describe("constructors and missing actors", () => {
  it("answers NOT_FOUND for non-constructors on a missing actor, ALREADY_EXISTS for a second constructor", async () => {
    const ctx = app.context();
    expect(await codeOf(Account.ref("ghost").balance(ctx))).toBe(Code.NotFound);
    expect(await codeOf(Account.ref("ghost").deposit(ctx, { amount: 1n }))).toBe(Code.NotFound);
    await Account.create(ctx, "once", { owner: "ann" });
    expect(await codeOf(Account.ref("once").open(ctx, { owner: "bob" }))).toBe(Code.AlreadyExists);
    expect((await Account.ref("once").balance(ctx)).owner).toBe("ann");
    expect(await codeOf(Account.ref("ghost").balance(ctx))).toBe(Code.NotFound);
  });
});

describe("errors", () => {
  it("delivers a declared error typed, with its fields, and changes nothing", async () => {
    for (const transport of ["connect", "grpc", "grpc-web"] as const) {
      const ctx = app.context({ transport });
      const [ref] = await Account.create(ctx, `err-${transport}`, { owner: "ann", initial: 10n });
      const err = await ref.withdraw(ctx, { amount: 25n }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WithdrawAborted);
      expect((err as WithdrawAborted).error.shortBy).toBe(15n);
      const mutated = await ref.withdraw(ctx, { amount: 14n }).catch((e: unknown) => e);
      expect(mutated).toBeInstanceOf(WithdrawAborted);
      expect((await ref.balance(ctx)).balance).toBe(10n);
    }
  });

  it("turns an undeclared throw into INTERNAL and changes nothing", async () => {
    const ctx = app.context();
    const [ref] = await Account.create(ctx, "undeclared", { owner: "ann", initial: 10n });
    expect(await codeOf(ref.withdraw(ctx, { amount: 13n }))).toBe(Code.Internal);
    expect((await ref.balance(ctx)).balance).toBe(10n);
    // The actor still serves writers afterwards.
    expect((await ref.deposit(ctx, { amount: 1n })).balance).toBe(11n);
  });
});

describe("idempotency", () => {
  it("replays a key without re-running the handler, also after a restart", async () => {
    const ctx = app.context();
    const [ref] = await Account.create(ctx, "idem", { owner: "ann" });
    const keyed = ref.idempotently({ key: "deposit-1" });
    const before = runs.deposit;
    const first = await keyed.deposit(ctx, { amount: 10n });
    const again = await Promise.all([keyed.deposit(ctx, { amount: 10n }), keyed.deposit(ctx, { amount: 10n })]);
    expect(runs.deposit - before).toBe(1);
    expect(again.map((r) => r.balance)).toEqual([first.balance, first.balance]);
    await app.restart();
    const ctx2 = app.context();
    expect((await keyed.deposit(ctx2, { amount: 10n })).balance).toBe(10n);
    expect(runs.deposit - before).toBe(1);
    expect((await ref.balance(ctx2)).balance).toBe(10n);
  });

  it("replays a declared error under its key", async () => {
    const ctx = app.context();
    const [ref] = await Account.create(ctx, "idem-err", { owner: "ann", initial: 1n });
    const keyed = ref.idempotently({ key: "overdraw" });
    const first = await keyed.withdraw(ctx, { amount: 5n }).catch((e: unknown) => e);
    await ref.deposit(ctx, { amount: 100n });
    const replay = await keyed.withdraw(ctx, { amount: 5n }).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(WithdrawAborted);
    expect(replay).toBeInstanceOf(WithdrawAborted);
    expect((replay as WithdrawAborted).error.shortBy).toBe(4n);
    expect((await ref.balance(ctx)).balance).toBe(101n);
  });

  it("refuses a key reused for another request, method or actor", async () => {
    const ctx = app.context();
    await Account.create(ctx, "k1", { owner: "ann", initial: 50n });
    await Account.create(ctx, "k2", { owner: "bob", initial: 50n });
    await Account.ref("k1").idempotently({ key: "shared" }).deposit(ctx, { amount: 1n });
    const reuse = (p: Promise<unknown>) => codeOf(p);
    expect(await reuse(Account.ref("k1").idempotently({ key: "shared" }).deposit(ctx, { amount: 2n }))).toBe(
      Code.FailedPrecondition,
    );
    expect(await reuse(Account.ref("k1").idempotently({ key: "shared" }).withdraw(ctx, { amount: 1n }))).toBe(
      Code.FailedPrecondition,
    );
    expect(await reuse(Account.ref("k2").idempotently({ key: "shared" }).deposit(ctx, { amount: 1n }))).toBe(
      Code.FailedPrecondition,
    );
    expect((await Account.ref("k1").balance(ctx)).balance).toBe(51n);
    expect((await Account.ref("k2").balance(ctx)).balance).toBe(50n);
  });

  it("derives alias keys from the context's seed", async () => {
    const a = app.context({ idempotencySeed: "seed-1" });
    const b = app.context({ idempotencySeed: "seed-1" });
    const c = app.context({ idempotencySeed: "seed-2" });
    const [ref] = await Account.create(a, "alias", { owner: "ann" });
    await ref.idempotently("pay").deposit(a, { amount: 5n });
    await ref.idempotently("pay").deposit(b, { amount: 5n }); // same seed: replay
    await ref.idempotently("pay").deposit(c, { amount: 5n }); // other seed: new call
    await ref.idempotently("tip").deposit(a, { amount: 1n }); // other alias: new call
    expect((await ref.balance(a)).balance).toBe(11n);
  });
});
