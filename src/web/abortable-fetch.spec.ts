// abortableFetch against a real loopback server: an abort ends the request
// on both sides whether it comes before the response or while its body
// streams; without a signal nothing changes. (The garbage-collection case it
// exists for is test/web.test.ts's, in a child process with --expose-gc.)
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { abortableFetch } from "./abortable-fetch.js";

let server: http.Server;
let url: string;
/** Resolves when the server sees the request to `path` closed by the client. */
const closed = new Map<string, Promise<void>>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    closed.set(req.url!, once(res, "close").then(() => undefined));
    if (req.url === "/silent") return; // never answers
    res.writeHead(200, { "content-type": "text/plain" });
    if (req.url === "/stream") res.write("first");
    else res.end("whole");
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Once the server has the request to `path`: its close, still to come. */
const requested = async (path: string): Promise<{ closed: Promise<void> }> => {
  while (!closed.has(path)) await new Promise((resolve) => setImmediate(resolve));
  return { closed: closed.get(path)! };
};

describe("abortableFetch", () => {
  it("rejects a fetch still waiting for its response with the abort reason, and the server sees it go", async () => {
    const abort = new AbortController();
    const pending = abortableFetch()(`${url}/silent`, { signal: abort.signal, redirect: "error" });
    const serverSide = await requested("/silent");
    const reason = new Error("gone");
    abort.abort(reason);
    await expect(pending).rejects.toBe(reason);
    await serverSide.closed;
  });

  it("errors a streaming body with the abort reason and closes the connection", async () => {
    const abort = new AbortController();
    const res = await abortableFetch()(`${url}/stream`, { signal: abort.signal, redirect: "error" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain");
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("first");
    const next = reader.read();
    const reason = new Error("done watching");
    abort.abort(reason);
    await expect(next).rejects.toBe(reason);
    await (await requested("/stream")).closed;
  });

  it("passes a request without a signal, or one that completes, through as it was", async () => {
    expect(await (await abortableFetch()(`${url}/plain`)).text()).toBe("whole");
    const abort = new AbortController();
    expect(await (await abortableFetch()(`${url}/plain2`, { signal: abort.signal })).text()).toBe("whole");
    abort.abort(); // after the body ended: nothing to cancel, nothing thrown
  });
});
