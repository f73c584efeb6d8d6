// Fencing (DESIGN.md §9): each partition stores an ownership epoch, a
// process that opens it takes the next one, and every commit checks it
// inside its LMDB write transaction. Two real server processes open the same
// partitioned data directory: from the moment the second has opened it,
// every commit of the first is refused (UNAVAILABLE, saying why), and
// everything the first acknowledged, up to its last answer under load, is
// there for the second.
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, describe, expect, it, vi } from "vitest";
import { Account } from "../../generated/bank/v1/account_cairn.js";
import { partitionOf } from "../../src/api/partition.js";
import { eventually } from "../fixtures/waiting.js";
import { ServerProcesses, freePort } from "./helpers.js";

vi.setConfig({ hookTimeout: 240_000 });

const PARTITIONS = 2;
const WORKERS_PER_PARTITION = 3;
/** Bounds each writer's loop: the test never writes without end. */
const MAX_DEPOSITS = 3_000;
const LOAD_MS = 90_000;

/** An account id on `partition`, starting with `prefix`. */
function idOn(partition: number, prefix: string): string {
  for (let i = 0; ; i++) {
    const id = `${prefix}-${i}`;
    if (partitionOf("bank.v1.Account", id, PARTITIONS) === partition) return id;
  }
}

describe("two processes opening the same partitions", () => {
  const procs = new ServerProcesses();
  afterAll(() => procs.close());

  it("refuses every commit of the older once the newer opened, and loses nothing the older acknowledged", async () => {
    const dataDir = await procs.tempDataDir("cairn-fence-");
    const env = { CAIRN_PARTITIONS: String(PARTITIONS) };
    const older = await procs.spawn({ dataDir, port: await freePort(), env });
    const a = procs.connect(older.url);
    const ids = Array.from({ length: PARTITIONS * WORKERS_PER_PARTITION }, (_, i) => idOn(i % PARTITIONS, `fence${i}`));
    for (const id of ids) await Account.create(a, id, { owner: id, initial: 0n });

    // Writers on the older process until it refuses them: each counts what it was told succeeded.
    const acked = new Map(ids.map((id) => [id, 0]));
    const refusals: ConnectError[] = [];
    const deadline = Date.now() + LOAD_MS;
    const writers = ids.map(async (id) => {
      for (let i = 0; i < MAX_DEPOSITS && Date.now() < deadline; i++) {
        try {
          await Account.ref(id).deposit(a, { amount: 1n });
          acked.set(id, acked.get(id)! + 1);
        } catch (e) {
          refusals.push(ConnectError.from(e));
          return;
        }
      }
    });
    // The newer opens while they write.
    await eventually(() => [...acked.values()].every((n) => n >= 20), 60_000, "writes acknowledged by the older process");
    const newer = await procs.spawn({ dataDir, port: await freePort(), env });
    const b = procs.connect(newer.url);
    await Promise.all(writers);

    // Every writer stopped at a refusal, not at its bound: UNAVAILABLE, saying a newer owner opened the partition.
    expect(refusals).toHaveLength(ids.length);
    for (const r of refusals) {
      expect(r.code).toBe(Code.Unavailable);
      expect(r.rawMessage).toMatch(/newer owner/);
    }
    // And so is every later commit, on every partition.
    for (const id of ids) {
      const late = await Account.ref(id).deposit(a, { amount: 1n }).then(() => undefined, (e: unknown) => ConnectError.from(e));
      expect(late?.code).toBe(Code.Unavailable);
    }
    expect((await Account.create(a, idOn(1, "fence-new"), { owner: "x", initial: 1n }).catch((e: unknown) => ConnectError.from(e)))).toMatchObject({ code: Code.Unavailable });

    // Nothing acknowledged is lost, and nothing refused was written.
    for (const id of ids) expect((await Account.ref(id).balance(b)).balance).toBe(BigInt(acked.get(id)!));
    // The newer owner writes.
    expect((await Account.ref(ids[0]!).deposit(b, { amount: 1n })).balance).toBe(BigInt(acked.get(ids[0]!)! + 1));
  });
});
