import { Authorizer, allow, type ReaderContext, type WriterContext } from "@cairn-dev/cairn";
import { CounterServicer, type Counter } from "../../generated/counter/v1/counter_cairn.js";
import type { IncrementRequest, ValueRequest } from "../../generated/counter/v1/counter_pb.js";

/** A counter anyone may read and increment: the page's shared state. */
export class CounterServicerImpl extends CounterServicer {
  override authorizer() {
    return new Authorizer<Counter>({ default: allow() });
  }

  async increment(_ctx: WriterContext, state: Counter, req: IncrementRequest) {
    state.value += req.by === 0n ? 1n : req.by;
    state.lastBy = req.who;
    return { value: state.value };
  }

  async value(_ctx: ReaderContext, state: Readonly<Counter>, _req: ValueRequest) {
    return { value: state.value, lastBy: state.lastBy };
  }
}
