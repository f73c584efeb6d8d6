// What the inspector reads through (README "The inspector"), without a
// browser: Actors.Types/List/Watch, Tasks.List pages and Tasks.WatchList,
// and who gets /__/cairn/ in which mode.
import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signHmacToken } from "@cairn-dev/cairn";
import { Actors } from "../generated/cairn/v1/actors_pb.js";
import { Tasks, TaskStatus, type ListTasksResponse } from "../generated/cairn/v1/tasks_pb.js";
import { Probe } from "../generated/probe/v1/probe_cairn.js";
import { inspectorAccess } from "../src/server/inspector-options.js";
import { startProbeApp, probeTokens, type ProbeApp } from "./fixtures/probe-app.js";
import { PROBE_ADMIN_TOKEN, PROBE_TOKEN_SECRET } from "./fixtures/probe-servicer.js";
import { bearerTransport } from "./fixtures/tasks-client.js";
import { rejectionOf, within } from "./fixtures/waiting.js";

describe("inspector: operator reads", () => {
  let probe: ProbeApp;
  let actors: Client<typeof Actors>;
  let tasks: Client<typeof Tasks>;

  beforeAll(async () => {
    probe = await startProbeApp({ tokenVerifier: probeTokens() });
    actors = createClient(Actors, bearerTransport(probe.app.url, PROBE_ADMIN_TOKEN));
    tasks = probe.tasks;
  });
  afterAll(() => probe?.app.stop());

  it("Actors.Types names each state type's methods by kind, with descriptors that decode them", async () => {
    const types = await actors.types({});
    expect(types.stateTypes.map((t) => t.typeName)).toEqual(["probe.v1.Probe"]);
    const methods = Object.fromEntries(types.stateTypes[0]!.methods.map((m) => [m.name, m.kind]));
    expect(methods).toMatchObject({ get: "reader", add: "writer", run: "workflow" });
    const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, types.fileDescriptorSet));
    expect(registry.getMessage("probe.v1.RunRequest")?.fields.map((f) => f.name)).toContain("scenario");
  });

  it("Actors.List pages the ids of a type by prefix or substring, in id order", async () => {
    for (const id of ["pg-a", "pg-b", "pg-c", "pg-d", "pg-e", "other"]) await Probe.ref(id).add(probe.ctx, { amount: 1n });
    const first = await actors.list({ stateType: "probe.v1.Probe", idPrefix: "pg-", limit: 2 });
    expect(first.actorIds).toEqual(["pg-a", "pg-b"]);
    const second = await actors.list({ stateType: "probe.v1.Probe", idPrefix: "pg-", limit: 2, pageToken: first.nextPageToken });
    expect(second.actorIds).toEqual(["pg-c", "pg-d"]);
    const last = await actors.list({ stateType: "probe.v1.Probe", idPrefix: "pg-", limit: 2, pageToken: second.nextPageToken });
    expect(last).toMatchObject({ actorIds: ["pg-e"], nextPageToken: "" });
    // The exact prefix is an id too.
    await Probe.ref("pg-").add(probe.ctx, { amount: 1n });
    expect((await actors.list({ stateType: "probe.v1.Probe", idPrefix: "pg-", limit: 1 })).actorIds).toEqual(["pg-"]);
    // A substring anywhere in the id, paged the same way; with a prefix, both hold.
    await Probe.ref("x-pg-b").add(probe.ctx, { amount: 1n });
    const having = await actors.list({ stateType: "probe.v1.Probe", idContains: "-b", limit: 1 });
    expect(having.actorIds).toEqual(["pg-b"]);
    expect(await actors.list({ stateType: "probe.v1.Probe", idContains: "-b", pageToken: having.nextPageToken })).toMatchObject({
      actorIds: ["x-pg-b"],
      nextPageToken: "",
    });
    expect((await actors.list({ stateType: "probe.v1.Probe", idPrefix: "x", idContains: "pg" })).actorIds).toEqual(["x-pg-b"]);
    expect((await rejectionOf(actors.list({ stateType: "no.Such" }))) as ConnectError).toMatchObject({ code: Code.NotFound });
  });

  it("Actors.Watch sends the state, then each commit's, and version 0 for an actor that does not exist", async () => {
    const ac = new AbortController();
    const stream = actors.watch({ stateType: "probe.v1.Probe", actorId: "watched" }, { signal: ac.signal })[Symbol.asyncIterator]();
    try {
      const absent = (await within(stream.next())).value!;
      expect(absent.version).toBe(0n);
      expect(absent.stateJson).toBe("");
      await Probe.ref("watched").add(probe.ctx, { amount: 5n, note: "five" });
      const after = (await within(stream.next())).value!;
      expect(after.version).toBeGreaterThan(0n);
      expect(JSON.parse(after.stateJson)).toMatchObject({ counter: "5", log: ["five"] });
    } finally {
      ac.abort();
    }
  });

  it("Tasks.List pages newest first with tokens, every task once, and filters by method by either name", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const task = Probe.ref("lister").spawn({ when: Date.now() + 3_600_000 }).run(probe.ctx, { scenario: "never" });
      await task.started;
      ids.push(task.taskId);
    }
    const seen: string[] = [];
    let token = "";
    do {
      const page = await tasks.list({ actorId: "lister", limit: 3, newestFirst: true, pageToken: token });
      expect(page.tasks.length).toBeLessThanOrEqual(3);
      seen.push(...page.tasks.map((t) => t.taskId));
      token = page.nextPageToken;
    } while (token !== "");
    expect(seen).toEqual([...ids].reverse());
    expect((await tasks.list({ actorId: "lister", method: "Run" })).tasks).toHaveLength(7);
    expect((await tasks.list({ actorId: "lister", method: "run" })).tasks).toHaveLength(7);
    expect((await tasks.list({ actorId: "lister", method: "add" })).tasks).toHaveLength(0);
    // A single task's view carries its request; a list's does not.
    const one = await tasks.get({ taskId: ids[0]! });
    expect(one.requestType).toBe("probe.v1.RunRequest");
    expect(one.request.length).toBeGreaterThan(0);
  });

  it("Tasks.WatchList sends the page again once a task changes it", async () => {
    const ac = new AbortController();
    const stream = tasks.watchList({ actorId: "list-watched", newestFirst: true }, { signal: ac.signal })[Symbol.asyncIterator]();
    try {
      expect((await within(stream.next())).value!.tasks).toHaveLength(0);
      const task = Probe.ref("list-watched").spawn({ when: Date.now() + 3_600_000 }).run(probe.ctx, { scenario: "never" });
      await task.started;
      const next = (await within(stream.next())).value as ListTasksResponse;
      expect(next.tasks.map((t) => [t.taskId, t.status])).toEqual([[task.taskId, TaskStatus.SCHEDULED]]);
    } finally {
      ac.abort();
    }
  });

  it("refuses every inspector read to a caller without cairn_admin", async () => {
    const user = signHmacToken({ sub: "mallory" }, PROBE_TOKEN_SECRET);
    const asUser = createClient(Actors, bearerTransport(probe.app.url, user));
    const asUserTasks = createClient(Tasks, bearerTransport(probe.app.url, user));
    for (const call of [() => asUser.types({}), () => asUser.list({ stateType: "probe.v1.Probe" }), () => asUserTasks.list({})]) {
      expect(((await rejectionOf(call())) as ConnectError).code).toBe(Code.PermissionDenied);
    }
    const stream = asUser.watch({ stateType: "probe.v1.Probe", actorId: "watched" });
    expect(((await rejectionOf(stream[Symbol.asyncIterator]().next())) as ConnectError).code).toBe(Code.PermissionDenied);
  });
});

describe("inspector: who gets /__/cairn/", () => {
  it("is open outside production, operators-only in production or when asked, off when told", () => {
    expect(inspectorAccess(undefined, {})).toBe("open");
    expect(inspectorAccess(undefined, { NODE_ENV: "production" })).toBe("operators");
    expect(inspectorAccess(true, { NODE_ENV: "production" })).toBe("operators");
    expect(inspectorAccess("operators", {})).toBe("operators");
    expect(inspectorAccess(false, {})).toBeUndefined();
    expect(inspectorAccess(undefined, { CAIRN_INSPECTOR: "off" })).toBeUndefined();
  });

  it("serves nothing at /__/cairn/ with inspector: false", async () => {
    const probe = await startProbeApp({ inspector: false });
    try {
      expect((await fetch(`${probe.app.url}/__/cairn/`)).status).toBe(404);
    } finally {
      await probe.app.stop();
    }
  });
});
