import {
  Authorizer,
  Loop,
  allow,
  type ReaderContext,
  type TransactionContext,
  type WorkflowContext,
  type WriterContext,
} from "@cairn-dev/cairn";
import { Counter, CounterServicer } from "../generated/counter/v1/counter_cairn.js";
import type {
  CountUpRequest,
  CreateRequest,
  GetRequest,
  IncrementRequest,
  TransferRequest,
} from "../generated/counter/v1/counter_pb.js";

/** Implements the methods declared in proto/counter/v1/counter.proto. */
export class CounterServicerImpl extends CounterServicer {
  /** Who may call what. Anyone may call anything here: tighten this before you deploy. */
  override authorizer() {
    return new Authorizer<Counter>({ default: allow() });
  }

  async create(_ctx: WriterContext, state: Counter, req: CreateRequest) {
    state.value = req.initial;
    return {};
  }

  async get(_ctx: ReaderContext, state: Readonly<Counter>, _req: GetRequest) {
    return { value: state.value };
  }

  async increment(_ctx: WriterContext, state: Counter, req: IncrementRequest) {
    state.value += req.by;
    return { value: state.value };
  }

  async transfer(ctx: TransactionContext, state: Counter, req: TransferRequest) {
    state.value -= req.amount;
    await Counter.ref(req.to).increment(ctx, { by: req.amount });
    return { value: state.value };
  }

  /** One step per iteration: each step's write applies once, even if the task is retried. */
  async countUp(ctx: WorkflowContext, req: CountUpRequest) {
    const value = await this.state.write("step", ctx, (state) => {
      state.value += 1n;
      return state.value;
    });
    if (ctx.iteration + 1 < req.steps) return new Loop({});
    return { value };
  }
}
