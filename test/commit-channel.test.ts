// Durable commits are published on node:diagnostics_channel (COMMIT_CHANNEL)
// for metrics and benchmarks: once per actor per commit, when durable, before
// the writer's reply.
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMMIT_CHANNEL, type CommitMessage, type ExternalContext } from "@cairn-dev/cairn";
import type { TestApplication } from "@cairn-dev/cairn/testing";
import { Probe } from "../generated/probe/v1/probe_cairn.js";
import type { Probe as ProbeState } from "../generated/probe/v1/probe_pb.js";
import { startProbeApp } from "./fixtures/probe-app.js";

let app: TestApplication;
let ctx: ExternalContext;
const seen: CommitMessage[] = [];
const listener = (m: unknown) => seen.push(m as CommitMessage);

beforeAll(async () => {
  ({ app, ctx } = await startProbeApp());
  subscribe(COMMIT_CHANNEL, listener);
});

afterAll(async () => {
  unsubscribe(COMMIT_CHANNEL, listener);
  ctx.close();
  await app.stop();
});

describe("the commit channel", () => {
  it("publishes each durable commit once, with its version and state, before the reply", async () => {
    const mine = () => seen.filter((m) => m.actorId === "cc-1");
    await Probe.ref("cc-1").add(ctx, { amount: 2n });
    expect(mine()).toHaveLength(1);
    const view = await Probe.ref("cc-1").add(ctx, { amount: 3n, note: "b" });
    expect(view.counter).toBe(5n);
    const [first, second] = mine();
    expect(first).toMatchObject({ stateType: "probe.v1.Probe", actorId: "cc-1", version: 1 });
    expect(second).toMatchObject({ stateType: "probe.v1.Probe", actorId: "cc-1", version: 2 });
    expect((second!.state as ProbeState).counter).toBe(5n);
    expect((second!.state as ProbeState).log).toEqual(["b"]);
    // A reader commits nothing.
    await Probe.ref("cc-1").get(ctx);
    expect(mine()).toHaveLength(2);
  });
});
