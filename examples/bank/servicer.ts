import { create } from "@bufbuild/protobuf";
import {
  Authorizer,
  Loop,
  allow,
  allowIf,
  atMostOnce,
  until,
  type Predicate,
  type ReaderContext,
  type TransactionContext,
  type WorkflowContext,
  type WriterContext,
} from "@cairn-dev/cairn";
import { Account, AccountServicer, TransferAborted, WithdrawAborted } from "../../generated/bank/v1/account_cairn.js";
import {
  OverdraftErrorSchema,
  type AccrueRequest,
  type ApproveInterestRequest,
  type BalanceRequest,
  type DepositRequest,
  type OpenRequest,
  type TransferRequest,
  type WithdrawRequest,
} from "../../generated/bank/v1/account_pb.js";

/** The secret the example signs and verifies its bearer tokens with. */
export const BANK_TOKEN_SECRET = process.env.CAIRN_BANK_SECRET ?? "bank-example-secret";

/** The caller's token names the account's owner (claim `sub`). */
const isOwner: Predicate<Account> = ({ context, state }) =>
  state !== undefined && context.claims?.sub === state.owner;

/** A bank account: opened once, then deposits and withdrawals. */
export class AccountServicerImpl extends AccountServicer {
  /** Anyone may open, read and deposit; only the owner may take money out. */
  override authorizer() {
    return new Authorizer<Account>({
      methods: { withdraw: allowIf({ all: [isOwner] }), transfer: allowIf({ all: [isOwner] }) },
      default: allow(),
    });
  }

  async open(_ctx: WriterContext, state: Account, req: OpenRequest) {
    state.owner = req.owner;
    state.balance = req.initial;
    state.history.push(`opened by ${req.owner} with ${req.initial}`);
    return {};
  }

  async balance(_ctx: ReaderContext, state: Readonly<Account>, _req: BalanceRequest) {
    return { balance: state.balance, owner: state.owner };
  }

  async deposit(_ctx: WriterContext, state: Account, req: DepositRequest) {
    state.balance += req.amount;
    return { balance: state.balance };
  }

  async withdraw(_ctx: WriterContext, state: Account, req: WithdrawRequest) {
    if (req.amount > state.balance) {
      throw new WithdrawAborted(
        create(OverdraftErrorSchema, { shortBy: req.amount - state.balance }),
        `balance ${state.balance} is short of ${req.amount}`,
      );
    }
    state.balance -= req.amount;
    return { balance: state.balance };
  }

  /**
   * A transaction: the withdrawal here and the deposit on `to` commit
   * together or not at all, and no reader sees one without the other.
   */
  async transfer(ctx: TransactionContext, state: Account, req: TransferRequest) {
    if (req.amount > state.balance) {
      throw new TransferAborted(
        create(OverdraftErrorSchema, { shortBy: req.amount - state.balance }),
        `balance ${state.balance} is short of ${req.amount}`,
      );
    }
    state.balance -= req.amount;
    await Account.ref(req.to).deposit(ctx, { amount: req.amount });
    return {};
  }

  async approveInterest(_ctx: WriterContext, state: Account, _req: ApproveInterestRequest) {
    state.interestApproved = true;
    state.history.push("interest approved");
    return {};
  }

  /**
   * A workflow: waits for approval, then once per period adds interest and
   * tells the ledger, looping `periods` times. Each step is safe to re-run:
   * the write applies once per alias and iteration, the ledger is called at
   * most once per iteration, and a crash anywhere resumes where it was.
   */
  async accrueInterest(ctx: WorkflowContext, req: AccrueRequest) {
    await until("approved", ctx, async () => (await this.state.read(ctx)).interestApproved);
    const interest = await this.state.write("add interest", ctx, (state) => {
      const interest = (state.balance * req.rateBps) / 10_000n;
      state.balance += interest;
      state.history.push(`interest +${interest} (period ${ctx.iteration + 1})`);
      return interest;
    });
    const { receipt } = await atMostOnce(
      "notify ledger",
      ctx,
      () => notifyLedger(req.ledgerUrl, ctx.actorId, ctx.iteration, interest),
      { validate: isReceipt },
    );
    await this.state.write("keep receipt", ctx, (state) => {
      state.history.push(`receipt ${receipt}`);
    });
    if (ctx.iteration + 1 < req.periods) return new Loop({ when: Date.now() + Number(req.periodMs) });
    const { balance, history } = await this.state.read(ctx);
    return { balance, receipts: history.filter((h) => h.startsWith("receipt ")) };
  }
}

interface Receipt {
  receipt: string;
}

function isReceipt(x: unknown): x is Receipt {
  return typeof x === "object" && x !== null && typeof (x as Receipt).receipt === "string";
}

/** The side effect the workflow must not repeat: a POST to the ledger. */
async function notifyLedger(url: string, account: string, period: number, interest: bigint): Promise<Receipt> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ account, period, interest: String(interest) }),
  });
  if (!res.ok) throw new Error(`ledger answered ${res.status}`);
  const body: unknown = await res.json();
  if (!isReceipt(body)) throw new Error("ledger answered without a receipt");
  return body;
}
