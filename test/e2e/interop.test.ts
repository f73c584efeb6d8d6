// Clients that know nothing of Cairn: a plain @grpc/grpc-js client and curl
// with Connect JSON over HTTP/1.1, against the same port (DESIGN.md §7).
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestApplication } from "@cairn-dev/cairn/testing";
import { Account } from "../../generated/bank/v1/account_cairn.js";
import {
  BalanceRequestSchema,
  BalanceResponseSchema,
  DepositRequestSchema,
  DepositResponseSchema,
} from "../../generated/bank/v1/account_pb.js";
import { AccountServicerImpl } from "../../examples/bank/servicer.js";
import { UNARY_PATHS } from "../fixtures/unary-paths.js";

function method<I extends DescMessage, O extends DescMessage>(name: string, input: I, output: O) {
  return {
    path: `/bank.v1.AccountMethods/${name}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: (m: MessageInitShape<I> | Buffer) =>
      Buffer.isBuffer(m) ? m : Buffer.from(toBinary(input, create(input, m))),
    requestDeserialize: (b: Buffer) => fromBinary(input, b),
    responseSerialize: (m: MessageShape<O>) => Buffer.from(toBinary(output, m)),
    responseDeserialize: (b: Buffer) => fromBinary(output, b),
  };
}

for (const { name, fastUnaryPath } of UNARY_PATHS) {
  describe(`on the ${name}`, () => {
    let app: TestApplication;
    beforeAll(async () => {
      app = await TestApplication.start({ servicers: [AccountServicerImpl], fastUnaryPath });
      await Account.create(app.context(), "shared", { owner: "ann", initial: 10n });
    });
    afterAll(async () => {
      await app?.stop();
    });

    it("serves a plain @grpc/grpc-js client", async () => {
      const Client = grpc.makeGenericClientConstructor(
        {
          deposit: method("Deposit", DepositRequestSchema, DepositResponseSchema),
          balance: method("Balance", BalanceRequestSchema, BalanceResponseSchema),
        },
        "AccountMethods",
      );
      const client = new Client(app.url.replace("http://", ""), grpc.credentials.createInsecure());
      const call = <T>(name: string, req: unknown, actor: string) =>
        new Promise<T>((resolve, reject) => {
          const md = new grpc.Metadata();
          md.set("x-cairn-actor-id", actor);
          const fn = (client as unknown as Record<string, Function>)[name]!.bind(client);
          fn(req, md, (err: grpc.ServiceError | null, res: T) => (err ? reject(err) : resolve(res)));
        });
      try {
        const dep = await call<{ balance: bigint }>("deposit", { amount: 5n }, "shared");
        expect(dep.balance).toBe(15n);
        const bal = await call<{ balance: bigint; owner: string }>("balance", {}, "shared");
        expect(bal).toMatchObject({ balance: 15n, owner: "ann" });
        const missing = await call("balance", {}, "nobody").catch((e: grpc.ServiceError) => e);
        expect((missing as grpc.ServiceError).code).toBe(grpc.status.NOT_FOUND);
        // Malformed protobuf over gRPC: INVALID_ARGUMENT, and nothing changes.
        const garbage = Buffer.from([0x08, 0xff, 0xff, 0xff]);
        const bad = await call("deposit", garbage, "shared").catch((e: grpc.ServiceError) => e);
        expect((bad as grpc.ServiceError).code).toBe(grpc.status.INVALID_ARGUMENT);
        expect((await Account.ref("shared").balance(app.context())).balance).toBe(15n);
      } finally {
        client.close();
      }
    });

    it("serves curl with Connect JSON over HTTP/1.1", async () => {
      const curl = async (path: string, body: string) => {
        const { stdout } = await promisify(execFile)("curl", [
          "-sS", "--http1.1", "-m", "10", "-X", "POST",
          "-H", "content-type: application/json",
          "-H", "x-cairn-actor-id: shared",
          "-d", body,
          `${app.url}/bank.v1.AccountMethods/${path}`,
        ]);
        return JSON.parse(stdout) as Record<string, unknown>;
      };
      const before = (await Account.ref("shared").balance(app.context())).balance;
      expect(await curl("Deposit", '{"amount":"7"}')).toEqual({ balance: String(before + 7n) });
      expect(await curl("Balance", "{}")).toEqual({ balance: String(before + 7n), owner: "ann" });
      // Only the owner may withdraw: without a token, curl is UNAUTHENTICATED.
      expect(await curl("Withdraw", '{"amount":"100000"}')).toMatchObject({ code: "unauthenticated" });
    });
  });
}
