/**
 * Drives `npm run dev` in an app made by `cairn init` (the counter
 * template), as a developer would, and fails loudly if the loop does not do
 * what the README says. One JSON line per measured scenario on stdout:
 *
 *   dev-restart-ts     saving a .ts change → the restarted server answers with the new code
 *   dev-restart-proto  saving a .proto change (a new response field) → the server answers with it
 *   cold-start         baseline, same run: `node --import tsx src/server.ts` → first answer
 *   dev-start          `npm run dev` (code generation included) → first answer
 *
 * The restart lines carry `steps`: when each step `cairn dev` traces
 * (CAIRN_DEV_TRACE=1) happened, in ms after the save: the change seen, code
 * generated, the old server told to stop and stopped, the spare told to go,
 * the new server serving. The timed edits add a new comment each run, so
 * the changed file is new to tsx's cache, as a developer's edit is.
 *
 * Also checked: data in .cairn/ survives every restart; a syntax error is
 * printed with its file and the loop keeps watching; a codegen error is
 * printed with file:line and the old server keeps serving.
 *
 *   node --import tsx bench/dev-loop.ts APP_DIR
 *
 * Each timed edit waits, as a developer reading the last result does, until
 * the dev loop's next server process has loaded (its `spare: ready` trace
 * line): the restart measured is the swap, not that process's load.
 * DEV_LOOP_PAUSE_MS=N waits N ms instead (a package without that trace
 * line); DEV_LOOP_PAUSE_MS=0 edits as soon as the server answers, so on a
 * loaded machine the restart also waits for that process to load.
 *
 * Used by .ci/package-e2e.sh (on the app it scaffolded) and bench/new-app.ts.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import { STEP_TIMEOUT_MS, call, firstAnswer, freePort, until } from "./counter-app.js";
import { emit, log } from "./output.js";

/** The dev process's output, and a way to wait for a line to show up in it. */
class Output {
  text = "";
  #waiters: Array<() => void> = [];
  constructor(child: ChildProcess) {
    const add = (b: Buffer) => {
      this.text += b.toString();
      // BENCH_TRACE=1: each line of the dev loop with its time (epoch ms, as the dev loop's own trace lines), to see where a restart spends it.
      if (process.env.BENCH_TRACE) for (const l of b.toString().trimEnd().split("\n")) log(`${Date.now()} ${l}`);
      for (const w of this.#waiters.splice(0)) w();
    };
    child.stdout?.on("data", add);
    child.stderr?.on("data", add);
  }
  /** Resolves once `pattern` matches output written after `from`. */
  async wait(pattern: RegExp, from: number, what: string): Promise<void> {
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    while (!pattern.test(this.text.slice(from))) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; output:\n${this.text.slice(from)}`);
      await new Promise<void>((done) => {
        this.#waiters.push(done);
        setTimeout(done, 1_000);
      });
    }
  }
}

function edit(path: string, from: string, to: string): void {
  const text = readFileSync(path, "utf8");
  if (!text.includes(from)) throw new Error(`${path} has no ${JSON.stringify(from)}`);
  writeFileSync(path, text.replace(from, to));
}

/** The dev loop's data stays in the app's .cairn/, whatever the caller's environment says. */
function withoutDataDir(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { CAIRN_DATA_DIR: _, ...rest } = env;
  return rest;
}

/**
 * Where a restart's time went: each step `cairn dev` traced (CAIRN_DEV_TRACE)
 * in `text`, as ms after `savedAt` (epoch ms), its first occurrence only.
 */
function stepsAfter(text: string, savedAt: number): Record<string, number> {
  const steps: Record<string, number> = {};
  for (const [, at, step] of text.matchAll(/^cairn dev: trace (\d+) (?:dev|server): (.+)$/gm)) {
    steps[step!] ??= Number(at) - savedAt;
    if (step === "the server serves") break; // the restart is done; what follows is the next step's
  }
  return steps;
}

/** The startup line, readable or (NODE_ENV=production) the JSON record. */
const SERVING = /cairn: serving on http:\S+|"msg":"serving on http:[^"]+"/;

/** Undefined: wait for the next server process instead. */
const PAUSE_MS = process.env.DEV_LOOP_PAUSE_MS ? Number(process.env.DEV_LOOP_PAUSE_MS) : undefined;

/** Waits before a timed edit: PAUSE_MS, or until the next server process has loaded (after the last 'serving on'). */
async function developerPause(out: Output): Promise<void> {
  if (PAUSE_MS !== undefined) return new Promise((done) => setTimeout(done, PAUSE_MS));
  const from = [...out.text.matchAll(new RegExp(SERVING.source, "g"))].at(-1)?.index ?? 0;
  await out.wait(/^cairn dev: trace \d+ spare: ready$/m, from, "the dev loop's next server process to load");
}

async function coldStart(app: string): Promise<number> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const started = performance.now();
  const child = spawn(process.execPath, ["--import", "tsx", "src/server.ts"], {
    cwd: app,
    env: { ...process.env, PORT: String(port), CAIRN_DATA_DIR: join(app, ".cairn-cold"), CAIRN_DEV: "1" },
    stdio: "ignore",
  });
  try {
    return (await firstAnswer(url)) - started;
  } finally {
    child.kill("SIGTERM");
  }
}

async function main(): Promise<void> {
  const app = resolve(process.argv[2] ?? ".");
  const servicer = join(app, "src/servicer.ts");
  const proto = join(app, "proto/counter/v1/counter.proto");
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const devSpawned = performance.now();
  const dev = spawn("npm", ["run", "dev"], {
    cwd: app,
    env: { ...withoutDataDir(process.env), PORT: String(port), CAIRN_DEV_TRACE: "1" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group: npm, cairn dev and the server end together
  });
  const out = new Output(dev);
  const originals = [servicer, proto].map((p) => [p, readFileSync(p, "utf8")] as const);
  try {
    await out.wait(SERVING, 0, "the first 'serving on'");
    log(`dev: serving on ${url}`);
    if (!(await call(url, "Create", { initial: "5" }))) throw new Error("no answer after 'serving on'");
    const devStartMs = performance.now() - devSpawned;
    await call(url, "Increment", { by: "2" });
    await until(url, "value 7", (r) => r.value === "7");

    // A .ts change: Get adds 1000. The answer shows both the new code and the kept data.
    await developerPause(out);
    let mark = out.text.length;
    const tsMark = mark;
    const tsSaved = performance.now();
    const tsSavedAt = Date.now();
    log(`${tsSavedAt} saving the .ts change`);
    // A new comment each run: the edited file is new to tsx's cache, as a developer's edit is.
    edit(servicer, "return { value: state.value };", `return { value: state.value + 1000n, note: "hi" }; // saved at ${Date.now()}`);
    const tsMs = (await until(url, "the .ts change (value 1007)", (r) => r.value === "1007")) - tsSaved;
    log(`${Date.now()} the .ts change answered`);
    await out.wait(SERVING, mark, "'serving on' after the .ts change");

    // A .proto change: GetResponse gains the `note` the servicer already sets.
    await developerPause(out);
    mark = out.text.length;
    const protoMark = mark;
    const protoSaved = performance.now();
    const protoSavedAt = Date.now();
    log(`${protoSavedAt} saving the .proto change`);
    edit(proto, "message GetResponse { int64 value = 1; }", `// saved at ${Date.now()}\nmessage GetResponse { int64 value = 1; string note = 2; }`);
    const protoMs = (await until(url, "the .proto change (note)", (r) => r.note === "hi")) - protoSaved;
    log(`${Date.now()} the .proto change answered`);
    await out.wait(SERVING, mark, "'serving on' after the .proto change");
    log(`dev: .ts change answered after ${Math.round(tsMs)} ms, .proto change after ${Math.round(protoMs)} ms`);

    // A syntax error: printed with its file; the loop goes on; fixing it serves again.
    mark = out.text.length;
    edit(servicer, "async get(", "async get(((");
    await out.wait(/servicer\.ts[\s\S]*the server exited/, mark, "the syntax error and 'the server exited'");
    mark = out.text.length;
    edit(servicer, "async get(((", "async get(");
    await out.wait(SERVING, mark, "'serving on' once the syntax error is fixed");
    await until(url, "answers after the fix", (r) => r.value === "1007");

    // A codegen error: printed with file:line; the running server keeps serving the old code.
    mark = out.text.length;
    edit(proto, "service CounterMethods {", "service CounterMethods {\n  rpc Broken(GetRequest) returns (GetResponse);");
    await out.wait(/code generation failed[\s\S]*counter\.proto:\d+/, mark, "the codegen error with file:line");
    if (!(await call(url, "Get", {}))) throw new Error("the old server stopped serving after a codegen error");
    mark = out.text.length;
    edit(proto, "\n  rpc Broken(GetRequest) returns (GetResponse);", "");
    await out.wait(SERVING, mark, "'serving on' once the codegen error is fixed");
    await until(url, "answers after the proto fix", (r) => r.value === "1007" && r.note === "hi");

    const cold = await coldStart(app);
    const load1 = Number(loadavg()[0]!.toFixed(1));
    // Read at the end: a restart's last trace lines (relayed over IPC) may come after its 'serving on'.
    const tsSteps = stepsAfter(out.text.slice(tsMark, protoMark), tsSavedAt);
    const protoSteps = stepsAfter(out.text.slice(protoMark), protoSavedAt);
    emit({ scenario: "dev-restart-ts", ms: Math.round(tsMs), baselineColdStartMs: Math.round(cold), editAfter: PAUSE_MS === undefined ? "spare ready" : `${PAUSE_MS} ms`, load1, steps: tsSteps });
    emit({ scenario: "dev-restart-proto", ms: Math.round(protoMs), baselineColdStartMs: Math.round(cold), editAfter: PAUSE_MS === undefined ? "spare ready" : `${PAUSE_MS} ms`, load1, steps: protoSteps });
    emit({ scenario: "cold-start", ms: Math.round(cold), load1 });
    emit({ scenario: "dev-start", ms: Math.round(devStartMs), baselineColdStartMs: Math.round(cold), load1 });
  } finally {
    if (dev.pid !== undefined) {
      try {
        process.kill(-dev.pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
    for (const [p, text] of originals) writeFileSync(p, text);
  }
}

main().catch((e: unknown) => {
  console.error(`dev-loop: FAILED: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
