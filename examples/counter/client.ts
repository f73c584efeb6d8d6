// Increments a shared counter from Node, e.g. while the page is open:
//
//   npx tsx examples/counter/client.ts [URL | --url URL] [--counter shared] [--by 1] [--who node]
//
// URL defaults to CAIRN_URL, else http://127.0.0.1:9991.
import { ExternalContext } from "@cairn-dev/cairn";
import { Counter } from "../../generated/counter/v1/counter_cairn.js";
import { clientArgs, usageError } from "../client-args.js";

const USAGE = "npx tsx examples/counter/client.ts [URL | --url URL] [--counter NAME] [--by N] [--who NAME]";
const { url, values } = clientArgs(process.argv.slice(2), USAGE, ["counter", "by", "who"]);
const counter = values.counter ?? "shared";
const by = values.by ?? "1";
if (!/^-?\d{1,18}$/.test(by)) usageError(USAGE, `--by must be an integer, got ${JSON.stringify(by)}`);

const ctx = new ExternalContext({ url });
try {
  const { value } = await Counter.ref(counter).increment(ctx, { by: BigInt(by), who: values.who ?? "node client" });
  console.log(`${counter} = ${value}`);
} catch (e) {
  console.error(`counter client: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
} finally {
  ctx.close();
}
