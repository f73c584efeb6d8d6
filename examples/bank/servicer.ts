import { create } from "@bufbuild/protobuf";
import type { ReaderContext, TransactionContext, WorkflowContext, WriterContext } from "cairn";
import { Account, AccountServicer, WithdrawAborted } from "../../generated/bank/v1/account_cairn.js";
import {
  OverdraftErrorSchema,
  type AccrueRequest,
  type BalanceRequest,
  type DepositRequest,
  type OpenRequest,
  type TransferRequest,
  type WithdrawRequest,
} from "../../generated/bank/v1/account_pb.js";

/** A bank account: opened once, then deposits and withdrawals. */
export class AccountServicerImpl extends AccountServicer {
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

  // Served once transactions land (issue 4); the runtime answers
  // UNIMPLEMENTED until then, without calling this.
  async transfer(ctx: TransactionContext, state: Account, req: TransferRequest) {
    if (req.amount > state.balance) {
      throw new Error(`balance ${state.balance} is short of ${req.amount}`);
    }
    state.balance -= req.amount;
    await Account.ref(req.to).deposit(ctx, { amount: req.amount });
    return {};
  }

  // Served once the workflow engine lands (issue 3).
  async accrueInterest(_ctx: WorkflowContext, _req: AccrueRequest): Promise<never> {
    throw new Error("workflows are not served by this version of Cairn yet");
  }
}
