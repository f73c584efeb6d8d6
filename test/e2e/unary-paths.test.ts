// The unary fast path (src/transport/fast-unary.ts) answers exactly as
// connect's handler does: the same raw requests (Connect binary and JSON
// over HTTP/1.1 and HTTP/2, gRPC over HTTP/2) go to two servers, one with
// the fast path and one without, and their answers must match: status,
// the headers a client reads, body, gRPC trailers. Each case also checks
// the code it must give, so a fault shared by both paths fails too.
import { gzipSync } from "node:zlib";
import { create, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hmacTokenVerifier, signHmacToken } from "@cairn-dev/cairn";
import { TestApplication } from "@cairn-dev/cairn/testing";
import { AccountServicerImpl, BANK_TOKEN_SECRET } from "../../examples/bank/servicer.js";
import { DepositRequestSchema, OpenRequestSchema } from "../../generated/bank/v1/account_pb.js";
import { connectHttp2, decoded, envelope, postHttp1, type RawAnswer, type RawPost } from "../fixtures/raw-calls.js";

const MAX = 64 * 1024;
const M = "/bank.v1.AccountMethods";

interface Target {
  readonly h1: RawPost;
  readonly h2: RawPost;
}

const servers: { fast?: TestApplication; connect?: TestApplication } = {};
const targets: { fast?: Target; connect?: Target } = {};
const closers: Array<() => void> = [];

beforeAll(async () => {
  const options = { servicers: [AccountServicerImpl], maxMessageBytes: MAX, tokenVerifier: hmacTokenVerifier(BANK_TOKEN_SECRET) };
  servers.fast = await TestApplication.start({ ...options, fastUnaryPath: true });
  servers.connect = await TestApplication.start({ ...options, fastUnaryPath: false });
  for (const name of ["fast", "connect"] as const) {
    const url = servers[name]!.url;
    const session = connectHttp2(url);
    closers.push(session.close);
    targets[name] = { h1: (path, headers, body) => postHttp1(url, path, headers, body), h2: session.post };
  }
}, 120_000);
afterAll(async () => {
  for (const close of closers) close();
  await servers.fast?.stop();
  await servers.connect?.stop();
});

/** What a client reads from an answer; ids the server makes up are only "present". */
interface Seen {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

const READ_HEADERS = ["content-type", "content-encoding", "grpc-encoding", "x-cairn-task-id", "grpc-status", "grpc-message", "grpc-status-details-bin"];

function seen(answer: RawAnswer): Seen {
  const headers: Record<string, string> = {};
  for (const [source, prefix] of [[answer.headers, ""], [answer.trailers, "trailer "]] as const) {
    for (const name of READ_HEADERS) {
      const value = source[name];
      if (value !== undefined) headers[prefix + name] = name === "x-cairn-task-id" ? "present" : value;
    }
  }
  const bytes = decoded(answer);
  const json = (answer.headers["content-type"] ?? "").includes("json");
  return { status: answer.status, headers, body: json ? JSON.parse(bytes.toString("utf8")) : bytes.toString("hex") };
}

const bin = { "content-type": "application/proto" };
const json = { "content-type": "application/json" };
const grpc = { "content-type": "application/grpc", te: "trailers" };
const actor = (id: string) => ({ "x-cairn-actor-id": id });
const deposit = (amount: bigint) => toBinary(DepositRequestSchema, create(DepositRequestSchema, { amount }));
const open = (owner: string) => toBinary(OpenRequestSchema, create(OpenRequestSchema, { owner, initial: 100n }));
const ownerToken = (sub: string) => ({ authorization: `Bearer ${signHmacToken({ sub }, BANK_TOKEN_SECRET)}` });
const GARBAGE = new Uint8Array([0x08, 0xff, 0xff, 0xff]);

/** A case: requests in order (each may depend on the ones before), and what the answers must say. */
interface Case {
  readonly name: string;
  run(t: Target, id: string): Promise<RawAnswer[]>;
  check(answers: Seen[]): void;
}

const connectCode = (a: Seen) => (a.body as { code?: string }).code ?? "ok";
const grpcStatus = (a: Seen) => a.headers["trailer grpc-status"] ?? a.headers["grpc-status"];

const cases: Case[] = [
  {
    name: "Connect JSON and binary over HTTP/1.1: open, deposit, read",
    run: async (t, id) => [
      await t.h1(`${M}/Open`, { ...json, ...actor(id) }, JSON.stringify({ owner: "ann", initial: "10" })),
      await t.h1(`${M}/Deposit`, { ...bin, ...actor(id) }, deposit(5n)),
      await t.h1(`${M}/Deposit`, { "content-type": "application/json; charset=utf-8", ...actor(id) }, '{"amount":"1"}'),
      await t.h1(`${M}/Balance`, { ...json, ...actor(id) }, "{}"),
    ],
    check: (a) => {
      expect(a.map((x) => x.status)).toEqual([200, 200, 200, 200]);
      expect(a[3]!.body).toEqual({ balance: "16", owner: "ann" });
    },
  },
  {
    name: "Connect binary and JSON over HTTP/2",
    run: async (t, id) => [
      await t.h2(`${M}/Open`, { ...bin, ...actor(id) }, open("bob")),
      await t.h2(`${M}/Deposit`, { ...bin, ...actor(id) }, deposit(7n)),
      await t.h2(`${M}/Balance`, { ...json, ...actor(id) }, "{}"),
    ],
    check: (a) => {
      expect(a.map((x) => x.status)).toEqual([200, 200, 200]);
      expect(a[2]!.body).toEqual({ balance: "107", owner: "bob" });
    },
  },
  {
    name: "malformed protobuf, bad JSON, wrong shape, unknown field: INVALID_ARGUMENT",
    run: async (t, id) => [
      await t.h1(`${M}/Deposit`, { ...bin, ...actor(id) }, GARBAGE),
      await t.h2(`${M}/Deposit`, { ...bin, ...actor(id) }, GARBAGE),
      await t.h1(`${M}/Deposit`, { ...json, ...actor(id) }, "{not json"),
      await t.h1(`${M}/Deposit`, { ...json, ...actor(id) }, '{"amount":"many"}'),
      await t.h1(`${M}/Deposit`, { ...json, ...actor(id) }, '{"nosuchfield":1}'),
    ],
    check: (a) => expect(a.map(connectCode)).toEqual(Array(5).fill("invalid_argument")),
  },
  {
    name: "missing, empty or undecodable actor id: INVALID_ARGUMENT; unknown actor: NOT_FOUND",
    run: async (t) => [
      await t.h1(`${M}/Balance`, json, "{}"),
      await t.h1(`${M}/Balance`, { ...json, ...actor("") }, "{}"),
      await t.h1(`${M}/Balance`, { ...json, ...actor("%zz") }, "{}"),
      await t.h1(`${M}/Balance`, { ...json, ...actor("nobody") }, "{}"),
    ],
    check: (a) => expect(a.map(connectCode)).toEqual(["invalid_argument", "invalid_argument", "invalid_argument", "not_found"]),
  },
  {
    name: "over maxMessageBytes: RESOURCE_EXHAUSTED (declared length, and over HTTP/2 a body that keeps coming)",
    run: async (t, id) => [
      await t.h1(`${M}/Open`, { ...json, ...actor(id) }, JSON.stringify({ owner: "x".repeat(MAX * 2) })),
      await t.h2(`${M}/Open`, { ...bin, ...actor(id) }, open("x".repeat(MAX * 2))),
      await t.h1(`${M}/Balance`, { ...json, ...actor(id) }, "{}"),
    ],
    check: (a) => expect(a.map(connectCode)).toEqual(["resource_exhausted", "resource_exhausted", "not_found"]),
  },
  {
    name: "idempotency key: a retry gets the first answer; reuse for another request is FAILED_PRECONDITION",
    run: async (t, id) => {
      const key = { "x-cairn-idempotency-key": `k-${id}` };
      return [
        await t.h1(`${M}/Open`, { ...json, ...actor(id) }, JSON.stringify({ owner: "cy", initial: "1" })),
        await t.h1(`${M}/Deposit`, { ...json, ...actor(id), ...key }, '{"amount":"2"}'),
        await t.h1(`${M}/Deposit`, { ...json, ...actor(id), ...key }, '{"amount":"2"}'),
        await t.h1(`${M}/Deposit`, { ...json, ...actor(id), ...key }, '{"amount":"3"}'),
        await t.h1(`${M}/Balance`, { ...json, ...actor(id) }, "{}"),
      ];
    },
    check: (a) => {
      expect(a[1]!.body).toEqual({ balance: "3" });
      expect(a[2]!.body).toEqual({ balance: "3" });
      expect(connectCode(a[3]!)).toBe("failed_precondition");
      expect(a[4]!.body).toMatchObject({ balance: "3" });
    },
  },
  {
    name: "spawn header: answers at once with the task id; a bad value is INVALID_ARGUMENT",
    run: async (t, id) => [
      await t.h1(`${M}/Open`, { ...json, ...actor(id), "x-cairn-spawn": "now" }, JSON.stringify({ owner: "di", initial: "1" })),
      await t.h1(`${M}/Open`, { ...json, ...actor(id), "x-cairn-spawn": "soon" }, JSON.stringify({ owner: "di", initial: "1" })),
      await t.h2(`${M}/Deposit`, { ...grpc, ...actor(id), "x-cairn-spawn": String(Date.now() + 3_600_000) }, envelope(deposit(1n))),
    ],
    check: (a) => {
      expect(a[0]!.headers["x-cairn-task-id"]).toBe("present");
      expect(connectCode(a[1]!)).toBe("invalid_argument");
      expect(a[2]!.headers["x-cairn-task-id"]).toBe("present");
      expect(grpcStatus(a[2]!)).toBe("0");
    },
  },
  {
    name: "authorization and declared errors: UNAUTHENTICATED, PERMISSION_DENIED, ABORTED with details",
    run: async (t, id) => [
      await t.h1(`${M}/Open`, { ...json, ...actor(id) }, JSON.stringify({ owner: "eve", initial: "1" })),
      await t.h1(`${M}/Withdraw`, { ...json, ...actor(id) }, '{"amount":"1"}'),
      await t.h1(`${M}/Withdraw`, { ...json, ...actor(id), authorization: "Bearer forged" }, '{"amount":"1"}'),
      await t.h1(`${M}/Withdraw`, { ...json, ...actor(id), ...ownerToken("mallory") }, '{"amount":"1"}'),
      await t.h1(`${M}/Withdraw`, { ...json, ...actor(id), ...ownerToken("eve") }, '{"amount":"50"}'),
      await t.h2(`${M}/Withdraw`, { ...grpc, ...actor(id), ...ownerToken("eve") }, envelope(deposit(50n))),
      await t.h2(`${M}/Withdraw`, { ...grpc, ...actor(id) }, envelope(deposit(1n))),
    ],
    check: (a) => {
      expect(a.slice(1, 5).map(connectCode)).toEqual(["unauthenticated", "unauthenticated", "permission_denied", "aborted"]);
      expect((a[4]!.body as { details?: unknown[] }).details).toHaveLength(1);
      expect(grpcStatus(a[5]!)).toBe("10");
      expect(a[5]!.headers["trailer grpc-status-details-bin"]).toBeTruthy();
      expect(grpcStatus(a[6]!)).toBe("16");
    },
  },
  {
    name: "compression: a gzip request, a gzip answer when asked and large, an unknown encoding refused",
    run: async (t, id) => {
      const owner = "o".repeat(4000);
      return [
        await t.h1(`${M}/Open`, { ...json, ...actor(id), "content-encoding": "gzip" }, gzipSync(JSON.stringify({ owner, initial: "1" }))),
        await t.h1(`${M}/Balance`, { ...json, ...actor(id), "accept-encoding": "gzip" }, "{}"),
        await t.h1(`${M}/Balance`, { ...json, ...actor(id), "accept-encoding": "br" }, "{}"),
        await t.h1(`${M}/Balance`, { ...json, ...actor(id), "content-encoding": "zstd" }, "{}"),
        await t.h2(`${M}/Balance`, { ...grpc, ...actor(id), "grpc-accept-encoding": "gzip" }, envelope(new Uint8Array())),
        await t.h2(`${M}/Deposit`, { ...grpc, ...actor(id), "grpc-encoding": "gzip" }, envelope(gzipSync(deposit(1n)), 1)),
        await t.h2(`${M}/Deposit`, { ...grpc, ...actor(id) }, envelope(gzipSync(deposit(1n)), 1)),
        await t.h2(`${M}/Deposit`, { ...grpc, ...actor(id), "grpc-encoding": "zstd" }, envelope(deposit(1n))),
      ];
    },
    check: (a) => {
      expect(a.map((x) => x.status)).toEqual([200, 200, 200, 501, 200, 200, 200, 200]);
      expect(a[1]!.headers["content-encoding"]).toBe("gzip");
      expect(a[2]!.headers["content-encoding"]).toBe("br");
      expect(connectCode(a[3]!)).toBe("unimplemented");
      expect(a[4]!.headers["grpc-encoding"]).toBe("gzip");
      expect([4, 5, 6, 7].map((i) => grpcStatus(a[i]!))).toEqual(["0", "0", "13", "12"]);
    },
  },
  {
    name: "timeouts: a bad timeout header is INVALID_ARGUMENT; a workflow call ends at its deadline",
    run: async (t, id) => [
      await t.h1(`${M}/Open`, { ...json, ...actor(id) }, JSON.stringify({ owner: "fay", initial: "1" })),
      await t.h1(`${M}/Balance`, { ...json, ...actor(id), "connect-timeout-ms": "soon" }, "{}"),
      await t.h2(`${M}/Balance`, { ...grpc, ...actor(id), "grpc-timeout": "10x" }, envelope(new Uint8Array())),
      await t.h1(`${M}/Balance`, { ...json, ...actor(id), "connect-timeout-ms": "60000" }, "{}"),
      // Waits for an approval that never comes: the deadline ends the wait.
      await t.h1(`${M}/AccrueInterest`, { ...json, ...actor(id), "connect-timeout-ms": "300" }, '{"periods":1}'),
      await t.h2(`${M}/AccrueInterest`, { ...grpc, ...actor(id), "grpc-timeout": "300m" }, envelope(new Uint8Array())),
    ],
    check: (a) => {
      expect(connectCode(a[1]!)).toBe("invalid_argument");
      expect(grpcStatus(a[2]!)).toBe("3");
      expect(connectCode(a[3]!)).toBe("ok");
      expect(connectCode(a[4]!)).toBe("deadline_exceeded");
      expect(grpcStatus(a[5]!)).toBe("4");
    },
  },
  {
    name: "gRPC framing: ok, malformed, none, cut off, two messages, over the limit",
    run: async (t, id) => {
      const one = envelope(deposit(1n));
      return [
        await t.h2(`${M}/Open`, { ...grpc, ...actor(id) }, envelope(open("gus"))),
        await t.h2(`${M}/Deposit`, { "content-type": "application/grpc+proto", te: "trailers", ...actor(id) }, one),
        await t.h2(`${M}/Deposit`, { ...grpc, ...actor(id) }, envelope(GARBAGE)),
        await t.h2(`${M}/Deposit`, { ...grpc, ...actor(id) }, new Uint8Array()),
        await t.h2(`${M}/Deposit`, { ...grpc, ...actor(id) }, one.subarray(0, one.length - 1)),
        await t.h2(`${M}/Deposit`, { ...grpc, ...actor(id) }, Buffer.concat([one, one])),
        await t.h2(`${M}/Open`, { ...grpc, ...actor(`${id}-big`) }, envelope(open("x".repeat(MAX * 2)))),
        await t.h2(`${M}/Balance`, { ...grpc, ...actor(id) }, envelope(new Uint8Array())),
      ];
    },
    check: (a) => {
      expect(a.map(grpcStatus)).toEqual(["0", "0", "3", "12", "3", "12", "8", "0"]);
      expect(a.map((x) => x.status)).toEqual(Array(8).fill(200));
    },
  },
  {
    name: "over HTTP/2, a call the stream path leaves (an expectation, a query string) is answered through node's compatibility layer",
    run: async (t, id) => [
      await t.h2(`${M}/Open`, { ...bin, ...actor(id), expect: "100-continue" }, open("ivy")),
      await t.h2(`${M}/Balance?probe=1`, { ...json, ...actor(id) }, "{}"),
      await t.h2(`${M}/Balance`, { ...json, ...actor(id), expect: "something-else" }, "{}"),
    ],
    check: (a) => {
      expect(a[0]!.status).toBe(200);
      expect(a[2]!.status).toBe(417);
    },
  },
];

describe("the fast path answers as connect's handler does", () => {
  for (const c of cases) {
    it(c.name, async () => {
      const id = `a-${cases.indexOf(c)}`;
      const fast = (await c.run(targets.fast!, id)).map(seen);
      const connect = (await c.run(targets.connect!, id)).map(seen);
      expect(fast).toEqual(connect);
      c.check(fast);
    });
  }
});
