// Malformed protobuf is INVALID_ARGUMENT over gRPC-Web too, whose status
// travels in the trailer frame at the end of the body (src/transport/invalid-input.ts).
import { afterAll, beforeAll, expect, it } from "vitest";
import { TestApplication } from "@cairn-dev/cairn/testing";
import { Account } from "../../generated/bank/v1/account_cairn.js";
import { AccountServicerImpl } from "../../examples/bank/servicer.js";

let app: TestApplication;

beforeAll(async () => {
  app = await TestApplication.start({ servicers: [AccountServicerImpl] });
  await Account.create(app.context(), "victim", { owner: "ann", initial: 100n });
});
afterAll(async () => {
  await app?.stop();
});

function envelope(flags: number, data: Uint8Array): Uint8Array {
  const bytes = Buffer.alloc(5 + data.length);
  bytes[0] = flags;
  bytes.writeUInt32BE(data.length, 1);
  bytes.set(data, 5);
  return bytes;
}

/** A gRPC-Web call as a browser sends it (HTTP/1.1); the trailer frame's fields. */
async function grpcWeb(path: string, message: Uint8Array) {
  const res = await fetch(`${app.url}/${path}`, {
    method: "POST",
    body: envelope(0, message) as BodyInit,
    headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1", "x-cairn-actor-id": "victim" },
  });
  const body = Buffer.from(await res.arrayBuffer());
  const trailer = new Map<string, string>();
  for (let at = 0; at < body.length; at += 5 + body.readUInt32BE(at + 1)) {
    if (body[at] !== 0x80) continue;
    const text = body.subarray(at + 5, at + 5 + body.readUInt32BE(at + 1)).toString("utf8");
    for (const line of text.split("\r\n").filter(Boolean)) {
      const i = line.indexOf(":");
      trailer.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
    }
  }
  return { status: res.status, trailer };
}

it("answers INVALID_ARGUMENT to malformed protobuf over gRPC-Web", async () => {
  // Field 1 as a varint whose continuation bit never ends.
  const r = await grpcWeb("bank.v1.AccountMethods/Deposit", new Uint8Array([0x08, 0xff, 0xff, 0xff]));
  expect(r.status).toBe(200);
  expect(r.trailer.get("grpc-status")).toBe("3");
  expect(decodeURIComponent(r.trailer.get("grpc-message") ?? "")).toMatch(/^parse binary/);
  expect((await Account.ref("victim").balance(app.context())).balance).toBe(100n);
});

it("leaves every other gRPC-Web answer as it was", async () => {
  // A valid Deposit of 5 (field 1 = 5): a response frame, then grpc-status 0.
  const ok = await grpcWeb("bank.v1.AccountMethods/Deposit", new Uint8Array([0x08, 0x05]));
  expect(ok.trailer.get("grpc-status")).toBe("0");
  expect((await Account.ref("victim").balance(app.context())).balance).toBe(105n);
  // Another error keeps its code: NOT_FOUND.
  const missing = await fetch(`${app.url}/bank.v1.AccountMethods/Balance`, {
    method: "POST",
    body: envelope(0, new Uint8Array()) as BodyInit,
    headers: { "content-type": "application/grpc-web+proto", "x-cairn-actor-id": "nobody" },
  });
  expect(Buffer.from(await missing.arrayBuffer()).toString("latin1")).toMatch(/grpc-status: 5/);
});
