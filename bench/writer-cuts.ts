/**
 * `npx tsx bench/writer-cuts.ts`: the writer path's cuts, each against
 * what it replaced, in one process (micro numbers; the whole path is
 * bench/unary.ts). One JSON line per scenario: µs per operation before
 * and after, best of BENCH_ROUNDS rounds alternating the two.
 *
 * - state-copy: a writer's draft, protobuf-es `clone` vs `copyMessage`;
 * - state-encode: the state's bytes, `toBinary` vs `encodeState`;
 * - stored-version: the commit's version check, decoding the record vs
 *   reading the version in place (inside a write transaction, as commits do);
 * - json-request: a JSON request's message, connect's parser (protobuf-es
 *   `fromJsonString`) vs the same through json-request-reader.ts (the
 *   bank's DepositRequest as the writer bench sends it, and random valid
 *   requests of every field kind the reader covers);
 * - own-flush: time from issuing a write to knowing it durable, with 8
 *   writes a turn for BENCH_FLUSH_TURNS turns, the newest batch's flush
 *   asked for after visibility vs the write's own batch's.
 *
 * Shapes: the bank's Account (the bench's state) and a larger random
 * message of every field kind (test/fixtures/message-shapes.ts).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clone, create, toBinary, type DescMessage, type Message } from "@bufbuild/protobuf";
import { open } from "lmdb";
import { AccountSchema } from "../generated/bank/v1/account_pb.js";
import { ShapesSchema, randomShapes, randomSource } from "../test/fixtures/message-shapes.js";
import { copyMessage } from "../src/runtime/message-copy.js";
import { withJsonReader } from "../src/transport/json-request-reader.js";
import { createMethodSerializationLookup, getJsonOptions, validateReadWriteMaxBytes } from "@connectrpc/connect/protocol";
import { DepositRequestSchema } from "../generated/bank/v1/account_pb.js";
import { JsonRequestSchema, randomRequestJson } from "../test/fixtures/json-shapes.js";
import { encodeState } from "../src/runtime/state-encoder.js";
import { OwnFlush } from "../src/store/own-flush.js";
import { storedVersion } from "../src/store/stored-version.js";
import type { StoredState } from "../src/store/store.js";
import type { StateKey } from "../src/store/range-scans.js";
import { emit, log, runBench, wanted } from "./output.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const FLUSH_TURNS = Number(process.env.BENCH_FLUSH_TURNS ?? 400);
const round2 = (n: number) => Math.round(n * 100) / 100;

/** µs per call of `f` over `n` calls. */
function time(n: number, f: (i: number) => unknown): number {
  let sink: unknown;
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) sink = f(i);
  const ns = Number(process.hrtime.bigint() - start);
  if (sink === Symbol.for("never")) log("");
  return ns / n / 1000;
}

/** Best of ROUNDS rounds, the two alternating: [before, after] µs per call. */
function compare(n: number, before: (i: number) => unknown, after: (i: number) => unknown): [number, number] {
  let b = Infinity;
  let a = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    b = Math.min(b, time(n, before));
    a = Math.min(a, time(n, after));
  }
  return [round2(b), round2(a)];
}

function line(scenario: string, shape: string, [before, after]: [number, number], extra: object = {}): void {
  emit({ scenario, shape, beforeUs: before, afterUs: after, speedup: round2(before / after), rounds: ROUNDS, ...extra });
}

const account = create(AccountSchema, { owner: "bench-owner", balance: 1_000_000_123n, history: ["opened by bench-owner with 1000000000"] });
const rnd = randomSource(3);
const shapes = Array.from({ length: 64 }, () => randomShapes(rnd));
/** [shape, type, messages, calls per round] */
const samples: Array<[string, DescMessage, Message[], number]> = [
  ["account", AccountSchema, [account], 200_000],
  ["random-shapes", ShapesSchema, shapes, 10_000],
];

/** Server's JSON options (application.ts): unknown fields refused. */
const JSON_OPTIONS = { ignoreUnknownFields: false };
const LIMITS = validateReadWriteMaxBytes(4 * 1024 * 1024, undefined, undefined);

/** [shape, type, request bodies, calls per round]: bodies protobuf-es reads without error. */
function jsonSamples(): Array<[string, DescMessage, Uint8Array[], number]> {
  const r = randomSource(9);
  const parse = parsers(JsonRequestSchema)[0];
  const bodies: Uint8Array[] = [];
  while (bodies.length < 64) {
    const body = Buffer.from(JSON.stringify(randomRequestJson(r)) ?? "null");
    try {
      parse(body);
      bodies.push(body);
    } catch {
      // Refused: not a sample.
    }
  }
  return [
    ["deposit-request", DepositRequestSchema, [Buffer.from('{"amount":"1"}')], 500_000],
    ["random-requests", JsonRequestSchema, bodies, 20_000],
  ];
}

/** connect's JSON parse for a method taking `desc`, as fast-unary.ts made it before and makes it now. */
function parsers(desc: DescMessage): [(b: Uint8Array) => Message, (b: Uint8Array) => Message] {
  const method = { input: desc, output: desc } as Parameters<typeof createMethodSerializationLookup>[0];
  const parse = createMethodSerializationLookup(method, undefined, JSON_OPTIONS, LIMITS).getI(false).parse;
  return [parse, withJsonReader(desc, parse, LIMITS.readMaxBytes, getJsonOptions(JSON_OPTIONS))];
}

async function main(): Promise<void> {
  if (wanted("json-request")) {
    for (const [shape, desc, bodies, n] of jsonSamples()) {
      const [before, after] = parsers(desc);
      line("json-request", shape, compare(n, (i) => before(bodies[i % bodies.length]!), (i) => after(bodies[i % bodies.length]!)));
    }
  }
  if (wanted("state-copy")) {
    for (const [shape, desc, ms, n] of samples) line("state-copy", shape, compare(n, (i) => clone(desc, ms[i % ms.length]!), (i) => copyMessage(desc, ms[i % ms.length]!)));
  }
  if (wanted("state-encode")) {
    for (const [shape, desc, ms, n] of samples) line("state-encode", shape, compare(n, (i) => toBinary(desc, ms[i % ms.length]!), (i) => encodeState(desc, ms[i % ms.length]!)));
  }
  const dir = mkdtempSync(join(tmpdir(), "cairn-writer-cuts-"));
  const root = open({ path: join(dir, "data"), maxDbs: 16, compression: false });
  try {
    const states = root.openDB<StoredState, StateKey>({ name: "state" });
    if (wanted("stored-version")) {
      const bytes = toBinary(AccountSchema, account);
      const keys: StateKey[] = Array.from({ length: 1000 }, (_, i) => ["bank.v1.Account", `acct-${i}`]);
      await root.transaction(() => keys.forEach((k, i) => void states.put(k, { version: 1000 + i, bytes })));
      const [before, after] = root.transactionSync(() =>
        compare(200_000, (i) => states.get(keys[i % 1000]!)?.version ?? 0, (i) => storedVersion(states, keys[i % 1000]!)),
      );
      line("stored-version", "account", [before, after], { stateBytes: bytes.length });
    }
    if (wanted("own-flush")) {
      const meta = root.openDB<number, string>({ name: "meta" });
      const flushes = new OwnFlush(root);
      const run = async (own: boolean): Promise<number> => {
        const waits: Array<Promise<number>> = [];
        for (let t = 0; t < FLUSH_TURNS; t++) {
          for (let k = 0; k < 8; k++) {
            const start = performance.now();
            const visible = meta.put(`k${k}`, t);
            const flushed = own ? flushes.of() : undefined;
            waits.push(visible.then((): PromiseLike<unknown> => flushed ?? root.flushed).then(() => performance.now() - start));
          }
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
        const ms = await Promise.all(waits);
        return ms.reduce((a, b) => a + b, 0) / ms.length;
      };
      let before = Infinity;
      let after = Infinity;
      for (let r = 0; r < Math.min(ROUNDS, 4); r++) {
        // Alternating which goes first: the one after another waits behind its flushes.
        if (r % 2 === 0) before = Math.min(before, await run(false));
        after = Math.min(after, await run(true));
        if (r % 2 === 1) before = Math.min(before, await run(false));
      }
      line("own-flush", "8 writes a turn", [round2(before * 1000), round2(after * 1000)], { unit: "µs from write to durable (mean)", turns: FLUSH_TURNS });
    }
  } finally {
    await root.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

runBench(main);
