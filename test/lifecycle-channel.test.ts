// The application says "started" on the cairn:application diagnostics
// channel once it serves, and "stopped" once its port and store are closed:
// `cairn dev` loads its next spare server on the first and starts the next
// server on the second, instead of waiting for the old process to exit.
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import * as net from "node:net";
import { describe, expect, it } from "vitest";
import { APPLICATION_CHANNEL } from "../src/api/lifecycle.js";
import { startProbeApp } from "./fixtures/probe-app.js";

/** Whether something accepts a connection on the port now. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

describe("the cairn:application channel", () => {
  it("publishes 'started' once start() listens", async () => {
    const heard: string[] = [];
    const listener = (message: unknown) => heard.push(String((message as { event?: string }).event));
    subscribe(APPLICATION_CHANNEL, listener);
    let app: Awaited<ReturnType<typeof startProbeApp>>["app"] | undefined;
    try {
      ({ app } = await startProbeApp());
      expect(heard).toEqual(["started"]);
      expect(await accepts(Number(new URL(app.url).port))).toBe(true);
    } finally {
      unsubscribe(APPLICATION_CHANNEL, listener);
      await app?.stop();
    }
  });

  it("publishes 'stopped' after stop() has closed the port", async () => {
    const { app } = await startProbeApp();
    const port = Number(new URL(app.url).port);
    expect(await accepts(port)).toBe(true);
    const heard: Array<Promise<boolean>> = [];
    const listener = (message: unknown) => {
      if ((message as { event?: string }).event === "stopped") heard.push(accepts(port));
    };
    subscribe(APPLICATION_CHANNEL, listener);
    try {
      await app.stop();
    } finally {
      unsubscribe(APPLICATION_CHANNEL, listener);
    }
    expect(heard).toHaveLength(1);
    expect(await heard[0]).toBe(false);
  });
});
