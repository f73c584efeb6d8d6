// Calls a running server: `npm run client [URL]` (default $CAIRN_URL, else http://127.0.0.1:9991).
import { ExternalContext } from "@cairn-dev/cairn";
import { Counter } from "../generated/counter/v1/counter_cairn.js";

const url = process.argv[2] ?? process.env.CAIRN_URL ?? "http://127.0.0.1:9991";
const ctx = new ExternalContext({ url });
const suffix = Math.random().toString(36).slice(2, 8);
const a = Counter.ref(`a-${suffix}`);
const b = Counter.ref(`b-${suffix}`);
try {
  await a.create(ctx, { initial: 10n });
  await b.create(ctx, { initial: 0n });
  console.log(`increment a-${suffix}: ${(await a.increment(ctx, { by: 5n })).value}`);
  await a.transfer(ctx, { to: `b-${suffix}`, amount: 3n });
  console.log(`transfer 3: a-${suffix} = ${(await a.get(ctx)).value}, b-${suffix} = ${(await b.get(ctx)).value}`);
  const task = b.spawn().countUp(ctx, { steps: 3 });
  await task.started;
  console.log(`workflow countUp on b-${suffix}: task ${task.taskId}`);
  console.log(`workflow done: b-${suffix} = ${(await task).value}`);
} finally {
  ctx.close();
}
