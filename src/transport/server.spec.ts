import * as net from "node:net";
import { describe, expect, it } from "vitest";
import { listen } from "./server.js";

/** Sends one keep-alive HTTP/1.1 request on a raw socket; resolves once the answer is in. */
async function keptAliveAfterOneAnswer(port: number): Promise<net.Socket> {
  const socket = net.connect(port, "127.0.0.1");
  socket.write("GET / HTTP/1.1\r\nHost: test\r\nConnection: keep-alive\r\n\r\n");
  let got = "";
  await new Promise<void>((resolve, reject) => {
    socket.on("data", (b: Buffer) => {
      got += b.toString();
      if (got.endsWith("ok")) resolve();
    });
    socket.once("error", reject);
  });
  return socket;
}

describe("listen(...).close(grace)", () => {
  it("closes an idle keep-alive HTTP/1.1 connection at once instead of waiting out the grace", { timeout: 60_000 }, async () => {
    const listener = await listen((_req, res) => res.end("ok"), "127.0.0.1", 0);
    const socket = await keptAliveAfterOneAnswer(listener.port);
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    // A grace far beyond the test's timeout: only closing the idle socket lets close() return.
    await listener.close(3_600_000);
    await closed;
    expect(socket.destroyed).toBe(true);
  });

  it("lets an answer still being made go out, then closes its connection", { timeout: 60_000 }, async () => {
    let arrive = (): void => undefined;
    const arrived = new Promise<void>((resolve) => (arrive = resolve));
    let answer = (): void => undefined;
    const listener = await listen((_req, res) => {
      answer = () => res.end("late ok");
      arrive();
    }, "127.0.0.1", 0);
    const socket = net.connect(listener.port, "127.0.0.1");
    let got = "";
    socket.on("data", (b: Buffer) => (got += b.toString()));
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.write("GET / HTTP/1.1\r\nHost: test\r\n\r\n");
    await arrived;
    const closing = listener.close(3_600_000);
    answer();
    await closing;
    await closed;
    expect(got).toMatch(/late ok$/);
  });
});
