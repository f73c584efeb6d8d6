// `cairn token`: signs a bearer token for an app whose server verifies
// tokens with hmacTokenVerifier(CAIRN_TOKEN_SECRET), e.g. an operator's
// token for `cairn tasks list`.
import { signHmacToken } from "../runtime/hmac-token.js";
import { EXIT, UsageError } from "./exit.js";
import { parseCommand } from "./options.js";

const HELP = `Usage: cairn token [--sub NAME] [--admin] [--ttl SECONDS]

Prints a bearer token signed with $CAIRN_TOKEN_SECRET (the secret the server
verifies with hmacTokenVerifier). Use it as --token or CAIRN_TOKEN.

  --sub NAME       the caller's name, claim "sub" (default operator)
  --admin          claim cairn_admin: true, for operator commands
  --ttl SECONDS    expires after this long (default: never)`;

export async function tokenCommand(rest: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommand(
    rest,
    { sub: { type: "string" }, admin: { type: "boolean" }, ttl: { type: "string" } },
    "token",
  );
  if (values.help) {
    console.log(HELP);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected ${JSON.stringify(positionals[0])}`, "token");
  const secret = process.env.CAIRN_TOKEN_SECRET;
  if (!secret) throw new UsageError("set CAIRN_TOKEN_SECRET to the server's token secret", "token");
  const ttl = values.ttl === undefined ? undefined : Number(values.ttl);
  if (ttl !== undefined && !(Number.isInteger(ttl) && ttl > 0)) throw new UsageError(`--ttl must be a positive integer, got ${values.ttl}`, "token");
  const claims = {
    sub: values.sub ?? "operator",
    ...(values.admin ? { cairn_admin: true } : {}),
    ...(ttl !== undefined ? { exp: Math.floor(Date.now() / 1000) + ttl } : {}),
  };
  console.log(signHmacToken(claims, secret));
  return EXIT.ok;
}
