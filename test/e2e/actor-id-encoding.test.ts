// Actor ids are UTF-8 strings with one header encoding (percent-encoded
// UTF-8, src/api/actor-id-header.ts), the same actor whichever client
// names it: the generated client over Connect, gRPC and gRPC-Web, curl, a
// plain gRPC client, the Watch request (id in its body) and `cairn actors get`.
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import * as path from "node:path";
import { promisify } from "node:util";
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError, decodeActorIdHeader, encodeActorIdHeader, ExternalContext, type TransportKind } from "@cairn-dev/cairn";
import { TestApplication } from "@cairn-dev/cairn/testing";
import { WebContext } from "@cairn-dev/cairn/web";
import { Account } from "../../generated/bank/v1/account_cairn.js";
import { Account as WebAccount } from "../../generated/bank/v1/account_cairn_web.js";
import { BalanceRequestSchema, BalanceResponseSchema } from "../../generated/bank/v1/account_pb.js";
import { WatchRequestSchema } from "../../generated/cairn/v1/reactive_pb.js";
import { AccountServicerImpl } from "../../examples/bank/servicer.js";
import { CLI_TEST_TIMEOUT_MS, runCli } from "../fixtures/cli-process.js";
import { removeDir, tempDataDir } from "./helpers.js";

const IDS = ["café", "日本", "🦀 crab", "100% sure", "plain-ascii_id.1"];
const TRANSPORTS: TransportKind[] = ["connect", "grpc", "grpc-web"];

let app: TestApplication;
let dir: string;
const contexts: ExternalContext[] = [];
function context(transport: TransportKind): ExternalContext {
  const ctx = new ExternalContext({ url: app.url, transport });
  contexts.push(ctx);
  return ctx;
}

beforeAll(async () => {
  // Development mode: `cairn actors get` is an operator call.
  app = await TestApplication.start({ servicers: [AccountServicerImpl], insecureDevelopmentMode: true });
  dir = await tempDataDir("cairn-actor-id-");
});
afterAll(async () => {
  for (const ctx of contexts) ctx.close();
  await app?.stop();
  if (dir) await removeDir(dir);
});

let headerFiles = 0;
/**
 * curl with Connect JSON; the actor id header's value is written byte for
 * byte (a string as latin1, so any byte can be sent) through `-H @file`.
 */
async function curl(method: string, actorHeader: string | Buffer, body: object, http2 = false): Promise<Record<string, unknown>> {
  const file = path.join(dir, `header-${headerFiles++}`);
  const value = typeof actorHeader === "string" ? Buffer.from(actorHeader, "latin1") : actorHeader;
  await writeFile(file, Buffer.concat([Buffer.from("x-cairn-actor-id: "), value, Buffer.from("\r\n")]));
  const args = ["-sS", "-m", "10", "-X", "POST", http2 ? "--http2-prior-knowledge" : "--http1.1"];
  args.push("-H", "content-type: application/json", "-H", `@${file}`, "-d", JSON.stringify(body));
  const { stdout } = await promisify(execFile)("curl", [...args, `${app.url}/bank.v1.AccountMethods/${method}`]);
  return JSON.parse(stdout) as Record<string, unknown>;
}

describe("the header encoding", () => {
  it("percent-encodes UTF-8 bytes, leaves ASCII without % as it is, and decodes what encodeURIComponent makes", () => {
    expect(encodeActorIdHeader("alice")).toBe("alice");
    expect(encodeActorIdHeader("café")).toBe("caf%C3%A9");
    expect(encodeActorIdHeader("100% sure")).toBe("100%25%20sure");
    for (const id of [...IDS, "\uFEFFbom", "a+b", "x".repeat(512)]) {
      expect(decodeActorIdHeader(encodeActorIdHeader(id))).toBe(id);
      expect(decodeActorIdHeader(encodeURIComponent(id))).toBe(id);
    }
  });

  it("rejects ids that are not valid, and header values that do not decode, with INVALID_ARGUMENT", () => {
    for (const id of ["", "\uD800", "a\u0000b", "tab\there", "é".repeat(257)]) {
      expect(() => encodeActorIdHeader(id)).toThrow(expect.objectContaining({ code: Code.InvalidArgument }));
    }
    for (const value of ["100%", "%zz", "%C3", "caf%E9", "%ED%A0%80", "café", "caf\u00c3\u00a9"]) {
      expect(() => decodeActorIdHeader(value)).toThrow(expect.objectContaining({ code: Code.InvalidArgument }));
    }
  });
});

describe.each(TRANSPORTS)("the generated client over %s", (transport) => {
  it("names the same actor as curl with the percent-encoded header, for every id", async () => {
    const ctx = context(transport);
    for (const base of IDS) {
      const id = `${transport}:${base}`;
      await Account.create(ctx, id, { owner: base, initial: 10n });
      // curl reads the actor the client created, and writes to it.
      expect(await curl("Balance", encodeURIComponent(id), {})).toEqual({ balance: "10", owner: base });
      expect(await curl("Deposit", encodeActorIdHeader(id), { amount: "5" }, true)).toEqual({ balance: "15" });
      expect((await Account.ref(id).balance(ctx)).balance).toBe(15n);
      // The Watch request carries the id in its body: the same actor.
      for await (const { balance } of Account.ref(id).reactively().balance(ctx)) {
        expect(balance).toBe(15n);
        break;
      }
    }
  });

  it("answers an id it cannot send with INVALID_ARGUMENT, a ConnectError", async () => {
    const ctx = context(transport);
    for (const id of ["\uD800", "bell\u0007", "é".repeat(257)]) {
      const error = await Account.ref(id).balance(ctx).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConnectError);
      expect(error).toMatchObject({ code: Code.InvalidArgument });
    }
    // 512 bytes in UTF-8 is the limit, not 512 characters.
    await Account.create(ctx, `${transport}${"é".repeat(250)}`, { owner: "long", initial: 1n });
    const error = await Account.create(ctx, `${transport}${"é".repeat(260)}`, { owner: "long" }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: Code.InvalidArgument });
  });
});

it("the browser's WebContext (fetch, Connect and gRPC-Web) names the same actors", async () => {
  for (const transport of ["connect", "grpc-web"] as const) {
    const ctx = new WebContext({ url: app.url, transport });
    for (const base of IDS) {
      const id = `web-${transport}:${base}`;
      await WebAccount.create(ctx, id, { owner: base, initial: 3n });
      expect(await curl("Balance", encodeURIComponent(id), {})).toEqual({ balance: "3", owner: base });
      expect((await Account.ref(id).balance(context("grpc"))).owner).toBe(base);
    }
    const error = await WebAccount.ref("\uD800").balance(ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectError);
    expect(error).toMatchObject({ code: Code.InvalidArgument });
  }
});

describe("curl", () => {
  it("gets INVALID_ARGUMENT for raw non-ASCII bytes, bad escapes, non-UTF-8 and over-long ids, over HTTP/1.1 and HTTP/2", async () => {
    const bad: Array<string | Buffer> = [
      Buffer.from("café", "utf8"), // raw UTF-8: must be percent-encoded
      Buffer.from([0x63, 0x61, 0x66, 0xe9]), // raw latin1
      "100%",
      "%zz",
      "caf%E9", // latin1 é, percent-encoded: not UTF-8
      "%C3", // a cut-off sequence
      "%ED%A0%80", // an encoded surrogate
      "nul%00",
      "%C3%A9".repeat(257), // 514 bytes once decoded
    ];
    for (const http2 of [false, true]) {
      for (const value of bad) {
        const answer = await curl("Open", value, { owner: "nobody" }, http2);
        expect({ value: String(value).slice(0, 20), http2, code: answer.code }).toEqual({ value: String(value).slice(0, 20), http2, code: "invalid_argument" });
      }
    }
    // The longest id in UTF-8: 256 × é (512 bytes, 1536 header characters).
    expect(await curl("Open", "%C3%A9".repeat(256), { owner: "long" })).toEqual({});
    expect((await Account.ref("é".repeat(256)).balance(context("connect"))).owner).toBe("long");
  });

  it("keeps plain ASCII ids byte-identical, and `%25` is a literal %", async () => {
    expect(await curl("Open", "curl-plain", { owner: "ann" })).toEqual({});
    expect((await Account.ref("curl-plain").balance(context("grpc"))).owner).toBe("ann");
    expect(await curl("Open", "50%25-off", { owner: "bob" })).toEqual({});
    expect((await Account.ref("50%-off").balance(context("connect"))).owner).toBe("bob");
  });
});

it("answers a Watch request whose actor id is not UTF-8 with INVALID_ARGUMENT, on the Connect fast path and over gRPC-Web", async () => {
  const bytes = toBinary(WatchRequestSchema, create(WatchRequestSchema, { stateType: "bank.v1.Account", actorId: "cafX", method: "balance" }));
  bytes[bytes.indexOf(0x58)] = 0xe9; // "caf" + a latin1 é: not UTF-8
  const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), bytes]);
  frame.writeUInt32BE(bytes.length, 1);
  const watch = (contentType: string) =>
    fetch(`${app.url}/cairn.v1.Reactive/Watch`, { method: "POST", body: frame as BodyInit, headers: { "content-type": contentType } }).then(
      async (r) => Buffer.from(await r.arrayBuffer()).toString("latin1"),
    );
  expect(await watch("application/connect+proto")).toMatch(/"code":"invalid_argument"/);
  expect(await watch("application/grpc-web+proto")).toMatch(/grpc-status: 3/);
});

function method<I extends DescMessage, O extends DescMessage>(name: string, input: I, output: O) {
  return {
    path: `/bank.v1.AccountMethods/${name}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: (m: MessageInitShape<I>) => Buffer.from(toBinary(input, create(input, m))),
    requestDeserialize: (b: Buffer) => fromBinary(input, b),
    responseSerialize: (m: MessageShape<O>) => Buffer.from(toBinary(output, m)),
    responseDeserialize: (b: Buffer) => fromBinary(output, b),
  };
}

it("a plain @grpc/grpc-js client sends the id percent-encoded in its metadata", async () => {
  const Client = grpc.makeGenericClientConstructor({ balance: method("Balance", BalanceRequestSchema, BalanceResponseSchema) }, "AccountMethods");
  const client = new Client(app.url.replace("http://", ""), grpc.credentials.createInsecure());
  try {
    const md = new grpc.Metadata();
    md.set("x-cairn-actor-id", encodeURIComponent("connect:日本"));
    const res = await new Promise<{ owner: string }>((resolve, reject) =>
      (client as unknown as Record<string, Function>).balance!({}, md, (e: Error | null, r: { owner: string }) => (e ? reject(e) : resolve(r))),
    );
    expect(res.owner).toBe("日本");
  } finally {
    client.close();
  }
});

it("`cairn actors get` reads the actor the client created under a non-ASCII id", { timeout: CLI_TEST_TIMEOUT_MS }, async () => {
  const { code, stdout, stderr } = await runCli(["actors", "get", "bank.v1.Account", "grpc-web:café", "--url", app.url]);
  expect(code, stderr).toBe(0);
  expect(JSON.parse(stdout)).toMatchObject({ owner: "café", balance: "15" });
});
