// A request over maxMessageBytes sent over HTTP/2 gets its RESOURCE_EXHAUSTED
// answer every time, never a stream reset or a stall (src/transport/early-response.ts).
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import * as path from "node:path";
import * as http2 from "node:http2";
import { once } from "node:events";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { TestApplication } from "@cairn-dev/cairn/testing";
import { Account } from "../../generated/bank/v1/account_cairn.js";
import { AccountServicerImpl } from "../../examples/bank/servicer.js";
import { removeDir, tempDataDir } from "./helpers.js";
import { within } from "../fixtures/waiting.js";

const MAX = 1024 * 1024;
const SIZE = 10 * 1024 * 1024;
let app: TestApplication;
let dir: string;
let connectBody: string;
let grpcBody: string;

const hasCurl = await promisify(execFile)("curl", ["--version"]).then(
  (r) => r.stdout.includes("HTTP2"),
  () => false,
);

beforeAll(async () => {
  app = await TestApplication.start({ servicers: [AccountServicerImpl], maxMessageBytes: MAX });
  dir = await tempDataDir("cairn-h2-");
  connectBody = path.join(dir, "connect.bin");
  grpcBody = path.join(dir, "grpc.bin");
  await writeFile(connectBody, Buffer.alloc(SIZE, 0x61));
  // One gRPC envelope announcing the 10 MB message it carries.
  const enveloped = Buffer.alloc(SIZE, 0x61);
  enveloped[0] = 0;
  enveloped.writeUInt32BE(SIZE - 5, 1);
  await writeFile(grpcBody, enveloped);
});
afterAll(async () => {
  await app?.stop();
  if (dir) await removeDir(dir);
});

/** curl over HTTP/2 (prior knowledge); its exit code, and what it printed of headers, trailers and body. */
async function curlH2(contentType: string, file: string, ...extra: string[]) {
  // --max-time only bounds a hang: the server may rightly read a slow body for up to 60 s.
  const args = ["-sS", "--http2-prior-knowledge", "--max-time", "90", "-D", "-", ...extra];
  args.push("-H", `content-type: ${contentType}`, "-H", "te: trailers", "-H", "x-cairn-actor-id: big");
  args.push("--data-binary", `@${file}`, `${app.url}/bank.v1.AccountMethods/Open`);
  try {
    const { stdout } = await promisify(execFile)("curl", args, { maxBuffer: 1 << 20 });
    return { exit: 0, out: stdout };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { exit: err.code ?? -1, out: `${err.stdout ?? ""}${err.stderr ?? ""}` };
  }
}

// 20 uploads of 10 MB: a second or two with idle cores, over a minute with both busy (the suite
// must pass so); the timeout only bounds a hang.
it.skipIf(!hasCurl)("answers every oversized HTTP/2 request with RESOURCE_EXHAUSTED, Connect and gRPC alike", { timeout: 300_000 }, async () => {
  // Before the fix about 1 in 4 Connect answers lost to a reset, and gRPC stalled every time.
  for (let i = 0; i < 10; i++) {
    const connect = await curlH2("application/proto", connectBody);
    expect({ i, ...connect }).toMatchObject({ exit: 0, out: expect.stringMatching(/"code":"resource_exhausted"/) });
    const grpc = await curlH2("application/grpc", grpcBody);
    expect({ i, ...grpc }).toMatchObject({ exit: 0, out: expect.stringMatching(/grpc-status: 8/) });
  }
  await expect(Account.ref("big").balance(app.context())).rejects.toMatchObject({ code: 5 /* NOT_FOUND */ });
});

it.skipIf(!hasCurl)("a slow client that keeps sending past the old 5 s cap still gets its answer whole", { timeout: 120_000 }, async () => {
  // ~7 s at 1.5 MB/s, never 5 s without a byte: before the drain became idle-based the
  // answer went out at 5 s with a reset, and curl exited 92 on the gRPC one.
  const grpc = await curlH2("application/grpc", grpcBody, "--limit-rate", "1500K");
  expect(grpc).toMatchObject({ exit: 0, out: expect.stringMatching(/grpc-status: 8/) });
});

it("answers a client that stops sending mid-body once it has been idle (~5 s)", { timeout: 120_000 }, async () => {
  const session = http2.connect(app.url);
  try {
    const stream = session.request({
      ":method": "POST",
      ":path": "/bank.v1.AccountMethods/Open",
      "content-type": "application/proto",
      "x-cairn-actor-id": "stalled",
    });
    stream.write(Buffer.alloc(2 * MAX, 0x61)); // over the limit, and never ended
    let body = "";
    stream.on("data", (chunk: Buffer) => (body += chunk.toString()));
    const [headers] = (await within(once(stream, "response"), 90_000, "the answer to a stalled upload")) as [http2.IncomingHttpHeaders];
    await within(once(stream, "close"), 90_000, "the stalled stream to close");
    expect(headers[":status"]).toBe(429);
    expect(body).toMatch(/"code":"resource_exhausted"/);
    expect(stream.rstCode).toBe(http2.constants.NGHTTP2_NO_ERROR);
  } finally {
    session.destroy();
  }
});
