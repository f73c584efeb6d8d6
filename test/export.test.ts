// `cairn export` and cairn.v1.Admin's refusals, through a real server with
// two state types and the CLI as its own process.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError, signHmacToken } from "@cairn-dev/cairn";
import type { TestApplication } from "@cairn-dev/cairn/testing";
import { Admin } from "../generated/cairn/v1/admin_pb.js";
import { Counter } from "../generated/counter/v1/counter_cairn.js";
import { Probe } from "../generated/probe/v1/probe_cairn.js";
import { CounterServicerImpl } from "../examples/counter/servicer.js";
import { runCli } from "./fixtures/cli-process.js";
import { probeTokens, startProbeApp } from "./fixtures/probe-app.js";
import { PROBE_ADMIN_TOKEN, PROBE_TOKEN_SECRET, ProbeServicerImpl } from "./fixtures/probe-servicer.js";
import { bearerTransport } from "./fixtures/tasks-client.js";
import { tempDirs } from "./fixtures/temp-dirs.js";

/** More than two of the server's pages (256), so page boundaries are crossed. */
const PROBES = 600;
const probeId = (i: number) => `p-${String(i).padStart(4, "0")}`;
const tempDir = tempDirs("cairn-export-");

describe("cairn export", () => {
  let app: TestApplication;
  const cli = (args: string[], token: string | null = PROBE_ADMIN_TOKEN) => runCli(args, { env: { CAIRN_URL: app.url, CAIRN_TOKEN: token ?? "" } });

  beforeAll(async () => {
    ({ app } = await startProbeApp({ servicers: [ProbeServicerImpl, CounterServicerImpl], tokenVerifier: probeTokens() }));
    const ctx = app.context();
    const ids = Array.from({ length: PROBES }, (_, i) => probeId(i));
    for (let i = 0; i < PROBES; i += 100) {
      await Promise.all(ids.slice(i, i + 100).map((id, j) => Probe.ref(id).add(ctx, { amount: BigInt(i + j), note: `note ${id}` })));
    }
    await Counter.ref("home").increment(ctx, { by: 3n, who: "ann" });
    await Counter.ref("ünïcode ✓").increment(ctx, { by: 1n, who: "bo" });
  });
  afterAll(() => app.stop());

  it("writes one JSON-lines file per state type, every actor once, in id order, decoded with the schema", async () => {
    const out = join(tempDir(), "export");
    const run = await cli(["export", "--out", out]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(`exported ${PROBES + 2} actor(s)`);
    expect(readdirSync(out).sort()).toEqual(["counter.v1.Counter.jsonl", "probe.v1.Probe.jsonl"]);
    const lines = (type: string) => readFileSync(join(out, `${type}.jsonl`), "utf8").trimEnd().split("\n").map((l) => JSON.parse(l) as unknown);
    const probes = lines("probe.v1.Probe");
    expect(probes).toHaveLength(PROBES);
    probes.forEach((line, i) => {
      expect(line).toEqual({ id: probeId(i), state: { counter: String(i), log: [`note ${probeId(i)}`], flag: false } });
    });
    expect(lines("counter.v1.Counter")).toEqual([
      { id: "home", state: { value: "3", last_by: "ann" } },
      { id: "ünïcode ✓", state: { value: "1", last_by: "bo" } },
    ]);
  });

  it("writes one state type to stdout", async () => {
    const run = await cli(["export", "--state-type", "counter.v1.Counter"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trimEnd().split("\n")).toHaveLength(2);
    expect(JSON.parse(run.stdout.split("\n")[0]!)).toEqual({ id: "home", state: { value: "3", last_by: "ann" } });
  });

  it("refuses an unknown state type, stdout without a type, and callers without cairn_admin", async () => {
    const unknown = await cli(["export", "--state-type", "nope.v1.Nope", "--out", tempDir()]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('serves no "nope.v1.Nope"');
    const noType = await cli(["export"]);
    expect(noType.code).toBe(2);
    expect(noType.stderr).toContain("--state-type");
    const anonymous = await cli(["export", "--state-type", "counter.v1.Counter"], null);
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toContain("unauthenticated");
    const user = createClient(Admin, bearerTransport(app.url, signHmacToken({ sub: "ann" }, PROBE_TOKEN_SECRET)));
    const denied = await consume(user.export({ stateType: "" })).catch((e: unknown) => ConnectError.from(e));
    expect(denied).toMatchObject({ code: Code.PermissionDenied });
  });
});

describe("Admin.Backup refusals over the wire", () => {
  let app: TestApplication;
  beforeAll(async () => {
    ({ app } = await startProbeApp({ tokenVerifier: probeTokens() }));
    await Probe.ref("a").add(app.context(), { amount: 1n });
  });
  afterAll(() => app.stop());

  const backup = (destination: string, token: string | null = PROBE_ADMIN_TOKEN) =>
    createClient(Admin, bearerTransport(app.url, token))
      .backup({ destination })
      .then(
        () => "OK",
        (e: unknown) => Code[ConnectError.from(e).code],
      );

  it("answers each refusal with its code and writes nothing", async () => {
    expect(await backup("relative/dir")).toBe("InvalidArgument");
    expect(await backup(join(app.dataDir, "inside"))).toBe("InvalidArgument");
    expect(readdirSync(app.dataDir).sort()).toEqual(["data.mdb", "lock.mdb"]);
    const full = tempDir();
    await runCli(["backup", "--data-dir", app.dataDir, full]);
    const before = readFileSync(join(full, "data.mdb"));
    expect(await backup(full)).toBe("AlreadyExists");
    expect(readFileSync(join(full, "data.mdb")).equals(before)).toBe(true);
    expect(await backup(join(tempDir(), "copy"), null)).toBe("Unauthenticated");
    expect(await backup(join(tempDir(), "copy"), signHmacToken({ sub: "ann" }, PROBE_TOKEN_SECRET))).toBe("PermissionDenied");
    expect(await backup(join(tempDir(), "copy"))).toBe("OK");
  });
});

async function consume(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of stream);
}
