// Hardening, items 2, 3 and 9: a task's status and result are readable only
// by callers its method's authorizer allows on its actor, and by operators,
// whatever the id (a keyed task's id follows from a guessable key); a caller
// cannot take the id a keyed spawn or a cron run will need; a transaction
// checks the actor ids it touches like a direct call does.
import { createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ACTOR_ID_HEADER,
  Authorizer,
  Code,
  ConnectError,
  SPAWN_HEADER,
  TASK_ID_HEADER,
  allowIf,
  hmacTokenVerifier,
  signHmacToken,
  type Predicate,
} from "@cairn-dev/cairn";
import { TestApplication } from "@cairn-dev/cairn/testing";
import { TaskStatus } from "../generated/cairn/v1/tasks_pb.js";
import { Probe } from "../generated/probe/v1/probe_cairn.js";
import { ProbeMethods } from "../generated/probe/v1/probe_pb.js";
import { Account } from "../generated/bank/v1/account_cairn.js";
import { AccountServicerImpl } from "../examples/bank/servicer.js";
import { taskIdForKey } from "../src/runtime/tasks/task-record.js";
import { PROBE_ADMIN_TOKEN, PROBE_TOKEN_SECRET, ProbeServicerImpl, defineScenario } from "./fixtures/probe-servicer.js";
import { bearerTransport, tasksClient } from "./fixtures/tasks-client.js";
import { rejectionOf } from "./fixtures/waiting.js";

const tokenOf = (sub: string) => signHmacToken({ sub }, PROBE_TOKEN_SECRET);
const ALICE = tokenOf("alice");
const BOB = tokenOf("bob");

/** Each actor's methods are for the caller whose token names that actor. */
const isOwner: Predicate<Probe> = ({ context }) => context.claims?.sub === context.actorId;
class OwnedProbe extends ProbeServicerImpl {
  override authorizer() {
    return new Authorizer<Probe>({ default: allowIf({ all: [isOwner] }) });
  }
}

defineScenario("taOrder", async (_ctx, req) => ({ result: `order ${req.scenario} done` }));

const codeOf = async (p: Promise<unknown>) => ConnectError.from(await rejectionOf(p)).code;

let app: TestApplication;
beforeAll(async () => {
  app = await TestApplication.start({ servicers: [OwnedProbe, AccountServicerImpl], tokenVerifier: hmacTokenVerifier(PROBE_TOKEN_SECRET) });
});
afterAll(() => app?.stop());

describe("who may read a task", () => {
  it("a keyed task: its owner and operators read it; anonymous callers and others do not, though the key is guessable", async () => {
    const task = Probe.ref("alice").idempotently({ key: "order-1234" }).spawn().run(app.context({ bearerToken: ALICE }), { scenario: "taOrder" });
    await task.started;
    expect(task.taskId).toBe(taskIdForKey("order-1234"));
    expect((await task).result).toBe("order taOrder done");

    const guessed = { taskId: taskIdForKey("order-1234") };
    for (const [who, token, code] of [
      ["anonymous", null, Code.Unauthenticated],
      ["bob", BOB, Code.PermissionDenied],
    ] as const) {
      const tasks = tasksClient(app.url, token);
      expect(await codeOf(tasks.get(guessed)), `${who}: Get`).toBe(code);
      expect(await codeOf(tasks.wait(guessed)), `${who}: Wait`).toBe(code);
      const watch = async () => {
        for await (const info of tasks.watch(guessed)) throw new Error(`${who} watched ${info.taskId}`);
      };
      expect(await codeOf(watch()), `${who}: Watch`).toBe(code);
    }
    for (const token of [ALICE, PROBE_ADMIN_TOKEN]) {
      const tasks = tasksClient(app.url, token);
      expect((await tasks.get(guessed)).status).toBe(TaskStatus.COMPLETED);
      expect((await tasks.wait(guessed)).status).toBe(TaskStatus.COMPLETED);
      for await (const info of tasks.watch(guessed)) expect(info.status).toBe(TaskStatus.COMPLETED);
    }
  });

  it("an unknown id is NOT_FOUND for anyone", async () => {
    expect(await codeOf(tasksClient(app.url, null).get({ taskId: "no-such-task" }))).toBe(Code.NotFound);
  });
});

describe("task ids a caller may choose", () => {
  /** A spawn over the wire as alice, under the task id she proposes. */
  const spawnAs = async (taskId: string, headers: Record<string, string> = {}) => {
    let answered: string | null = null;
    await createClient(ProbeMethods, bearerTransport(app.url, ALICE)).run(
      { scenario: "taOrder" },
      {
        headers: { [ACTOR_ID_HEADER]: "alice", [SPAWN_HEADER]: "now", [TASK_ID_HEADER]: taskId, ...headers },
        onHeader: (h) => (answered = h.get(TASK_ID_HEADER)),
      },
    );
    return answered;
  };

  it("the id a later keyed spawn needs cannot be taken: the keyed spawn still works", async () => {
    const victim = taskIdForKey("order-5678");
    expect(await codeOf(spawnAs(victim))).toBe(Code.InvalidArgument);
    const task = Probe.ref("alice").idempotently({ key: "order-5678" }).spawn().run(app.context({ bearerToken: ALICE }), { scenario: "taOrder" });
    await task.started;
    expect(task.taskId).toBe(victim);
    expect((await task).result).toBe("order taOrder done");
  });

  it("nor the id of a cron run", async () => {
    expect(await codeOf(spawnAs("00mwt87qhh-c0123456789abcde"))).toBe(Code.InvalidArgument);
  });

  it("an id of the caller's own is kept, and with a key the key's id wins", async () => {
    expect(await spawnAs("my-task-1")).toBe("my-task-1");
    expect(await spawnAs("k-anything", { "x-cairn-idempotency-key": "order-9" })).toBe(taskIdForKey("order-9"));
  });
});

describe("transactions check actor ids like direct calls", () => {
  it("a transfer to an id over 512 UTF-8 bytes is INVALID_ARGUMENT and changes nothing", async () => {
    const ctx = app.context({ bearerToken: signHmacToken({ sub: "tx-owner" }, PROBE_TOKEN_SECRET) });
    await Account.ref("tx-source").open(ctx, { owner: "tx-owner", initial: 100n });
    // 171 × "日" is 513 bytes of UTF-8 but only 171 UTF-16 units.
    for (const to of ["日".repeat(171), "x".repeat(513)]) {
      const err = ConnectError.from(await rejectionOf(Account.ref("tx-source").transfer(ctx, { to, amount: 10n })));
      expect(err.code, JSON.stringify(to.slice(0, 8))).toBe(Code.InvalidArgument);
      expect(err.rawMessage).toMatch(/actor id/);
    }
    expect((await Account.ref("tx-source").balance(ctx)).balance).toBe(100n);
  });
});
