import { afterAll, beforeAll, expect, test } from "vitest";
import { TestApplication } from "@cairn-dev/cairn/testing";
import { Counter } from "../generated/counter/v1/counter_cairn.js";
import { CounterServicerImpl } from "../src/servicer.js";

// A real server on a free port with a real store in a temporary folder.
let app: TestApplication;
beforeAll(async () => {
  app = await TestApplication.start({ servicers: [CounterServicerImpl] });
});
afterAll(async () => {
  await app?.stop();
});

test("a transfer moves value between counters atomically", async () => {
  const ctx = app.context();
  await Counter.ref("from").create(ctx, { initial: 10n });
  await Counter.ref("to").create(ctx, { initial: 0n });
  await Counter.ref("from").transfer(ctx, { to: "to", amount: 4n });
  expect((await Counter.ref("from").get(ctx)).value).toBe(6n);
  expect((await Counter.ref("to").get(ctx)).value).toBe(4n);
});

test("the countUp workflow runs to the end, and the state survives a restart", async () => {
  const ctx = app.context();
  await Counter.ref("w").create(ctx, { initial: 0n });
  const task = Counter.ref("w").spawn().countUp(ctx, { steps: 3 });
  expect((await task).value).toBe(3n);
  await app.restart();
  expect((await Counter.ref("w").get(app.context())).value).toBe(3n);
});
