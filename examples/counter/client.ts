// Increments a shared counter from Node, e.g. while the page is open:
//
//   npx tsx examples/counter/client.ts [--url http://127.0.0.1:9991] [--counter shared] [--by 1] [--who node]
import { parseArgs } from "node:util";
import { ExternalContext } from "@cairn-dev/cairn";
import { Counter } from "../../generated/counter/v1/counter_cairn.js";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    url: { type: "string", default: "http://127.0.0.1:9991" },
    counter: { type: "string", default: "shared" },
    by: { type: "string", default: "1" },
    who: { type: "string", default: "node client" },
  },
  strict: true,
});
const ctx = new ExternalContext({ url: values.url });
try {
  const { value } = await Counter.ref(values.counter).increment(ctx, { by: BigInt(values.by), who: values.who });
  console.log(`${values.counter} = ${value}`);
} finally {
  ctx.close();
}
