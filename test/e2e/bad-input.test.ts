// Bad input gets a precise code and never touches stored state (DESIGN.md §3).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@cairn-dev/cairn";
import { TestApplication } from "@cairn-dev/cairn/testing";
import { Account } from "../../generated/bank/v1/account_cairn.js";
import { AccountServicerImpl } from "../../examples/bank/servicer.js";
import { UNARY_PATHS } from "../fixtures/unary-paths.js";

const MAX = 64 * 1024;

for (const { name, fastUnaryPath } of UNARY_PATHS) {
  describe(`over the ${name}`, () => {
    let app: TestApplication;

    beforeAll(async () => {
      app = await TestApplication.start({ servicers: [AccountServicerImpl], maxMessageBytes: MAX, fastUnaryPath });
      await Account.create(app.context(), "victim", { owner: "ann", initial: 100n });
    });
    afterAll(async () => {
      await app?.stop();
    });

    /** A raw Connect unary call over HTTP/1.1, as curl or a browser would send it. */
    async function post(path: string, body: Uint8Array | string, headers: Record<string, string>) {
      const res = await fetch(`${app.url}/${path}`, { method: "POST", body: body as BodyInit, headers });
      const text = await res.text();
      return { status: res.status, body: text, code: text.startsWith("{") ? (JSON.parse(text) as { code?: string }).code : undefined };
    }

    const DEPOSIT = "bank.v1.AccountMethods/Deposit";
    const binary = { "content-type": "application/proto", "x-cairn-actor-id": "victim" };
    const json = { "content-type": "application/json", "x-cairn-actor-id": "victim" };

    async function balanceUnchanged() {
      expect((await Account.ref("victim").balance(app.context())).balance).toBe(100n);
    }

    it("answers INVALID_ARGUMENT to malformed protobuf", async () => {
      // Field 1 as a varint whose continuation bit never ends.
      const r = await post(DEPOSIT, new Uint8Array([0x08, 0xff, 0xff, 0xff]), binary);
      expect(r.code).toBe("invalid_argument");
      await balanceUnchanged();
    });

    it("answers INVALID_ARGUMENT to bad JSON and to JSON of the wrong shape", async () => {
      expect((await post(DEPOSIT, "{not json", json)).code).toBe("invalid_argument");
      expect((await post(DEPOSIT, JSON.stringify({ amount: "many" }), json)).code).toBe("invalid_argument");
      expect((await post(DEPOSIT, JSON.stringify({ nosuchfield: 1 }), json)).code).toBe("invalid_argument");
      await balanceUnchanged();
    });

    it("answers UNIMPLEMENTED to an unknown service or method", async () => {
      const unknownService = await post("bank.v1.NoSuchMethods/Deposit", "{}", json);
      const unknownMethod = await post("bank.v1.AccountMethods/Steal", "{}", json);
      for (const r of [unknownService, unknownMethod]) {
        expect(r.status).toBe(404); // Connect maps HTTP 404 to UNIMPLEMENTED
      }
      await balanceUnchanged();
    });

    it("answers INVALID_ARGUMENT to a missing or empty actor id", async () => {
      const { "x-cairn-actor-id": _, ...noActor } = json;
      const missing = await post(DEPOSIT, JSON.stringify({ amount: "5" }), noActor);
      const empty = await post(DEPOSIT, JSON.stringify({ amount: "5" }), { ...json, "x-cairn-actor-id": "" });
      expect(missing.code).toBe("invalid_argument");
      expect(missing.body).toMatch(/x-cairn-actor-id/);
      expect(empty.code).toBe("invalid_argument");
      const ctx = app.context();
      await expect(Account.ref("").balance(ctx)).rejects.toMatchObject({ code: Code.InvalidArgument });
      await balanceUnchanged();
    });

    it("answers RESOURCE_EXHAUSTED to a message over the configured limit", async () => {
      const huge = JSON.stringify({ owner: "x".repeat(MAX * 2) });
      const r = await post("bank.v1.AccountMethods/Open", huge, { ...json, "x-cairn-actor-id": "huge" });
      expect(r.code).toBe("resource_exhausted");
      const ctx = app.context();
      await expect(Account.ref("huge").open(ctx, { owner: "x".repeat(MAX * 2) })).rejects.toMatchObject({
        code: Code.ResourceExhausted,
      });
      await expect(Account.ref("huge").balance(ctx)).rejects.toMatchObject({ code: Code.NotFound });
      await balanceUnchanged();
    });
  });
}
