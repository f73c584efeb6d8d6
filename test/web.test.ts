// The browser entry (`cairn/web`) exercised from Node against a real
// Application: Node 20's fetch is what connect-web runs on in a browser too.
// The page itself is driven by test/e2e/browser.test.ts.
import { randomBytes, createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Application, ExternalContext, hmacTokenVerifier, signHmacToken } from "@cairn-dev/cairn";
import { LiveQuery, WebContext } from "@cairn-dev/cairn/web";
import { deriveKey as nodeDeriveKey } from "../src/runtime/idempotency.js";
import { taskIdForKey as nodeTaskIdForKey } from "../src/runtime/tasks/task-record.js";
import { callKeys } from "../src/api/call-keys.js";
import { sha256, toBase64Url, toHex } from "../src/api/sha256.js";
import { resolveFile } from "../src/transport/static-files.js";
import { CounterServicerImpl } from "../examples/counter/servicer.js";
import { AccountServicerImpl, BANK_TOKEN_SECRET } from "../examples/bank/servicer.js";
import { Counter as NodeCounter } from "../generated/counter/v1/counter_cairn.js";
import { Counter } from "../generated/counter/v1/counter_cairn_web.js";
import { Account, WithdrawAborted } from "../generated/bank/v1/account_cairn_web.js";
import type { ValueResponse } from "../generated/counter/v1/counter_pb.js";
import { runGcFixture } from "./fixtures/gc-child.js";
import { PATIENCE_MS, within } from "./fixtures/waiting.js";

const REPO = fileURLToPath(new URL("../", import.meta.url));

describe("cairn/web imports nothing Node-only", () => {
  it("walks the import graph of src/web and src/react", async () => {
    const seen = new Set<string>();
    const external = new Set<string>();
    const visit = async (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = await readFile(file, "utf8");
      // Type-only imports vanish at build time; everything else is bundled.
      const re = /^\s*(?:import|export)\s+(?!type\s)(?:[^"';]*?\sfrom\s+)?["']([^"']+)["']/gm;
      for (const [, spec] of text.matchAll(re)) {
        if (spec!.startsWith(".")) {
          const target = path.resolve(path.dirname(file), spec!);
          const candidates = [target.replace(/\.js$/, ".ts"), target.replace(/\.js$/, ".tsx"), target];
          const found = (await Promise.all(candidates.map((c) => readFile(c).then(() => c, () => undefined)))).find(Boolean);
          if (!found) throw new Error(`${file}: cannot resolve ${spec}`);
          await visit(found);
        } else external.add(spec!);
      }
    };
    await visit(path.join(REPO, "src/web/index.ts"));
    await visit(path.join(REPO, "src/react/index.tsx"));
    expect([...seen].some((f) => f.endsWith("api/ref.ts"))).toBe(true);
    // The shared API and the client wing only: no server code in the bundle.
    const server = [...seen].map((f) => path.relative(REPO, f)).filter((f) => /^src\/(runtime|server|transport|store|tasks)\//.test(f));
    expect(server).toEqual([]);
    // @opentelemetry/api runs in browsers too (remote calls send the active trace context).
    const allowed = ["@bufbuild/protobuf", "@bufbuild/protobuf/codegenv2", "@connectrpc/connect", "@connectrpc/connect-web", "@opentelemetry/api", "react"];
    expect([...external].filter((s) => !allowed.includes(s))).toEqual([]);
  });

  it("generated _cairn_web.ts files import only cairn/web, protobuf and their _pb files", async () => {
    for (const file of ["generated/counter/v1/counter_cairn_web.ts", "generated/bank/v1/account_cairn_web.ts"]) {
      const text = await readFile(path.join(REPO, file), "utf8");
      const specs = [...text.matchAll(/from\s+"([^"]+)"/g)].map((m) => m[1]!);
      expect(specs.filter((s) => s !== "@cairn-dev/cairn/web" && s !== "@bufbuild/protobuf" && !s.endsWith("_pb.js"))).toEqual([]);
      expect(text).not.toMatch(/Servicer|Scheduler/);
    }
  });
});

describe("sha256 and keys match the Node client byte for byte", () => {
  it("hashes like node:crypto", () => {
    for (let n = 0; n < 200; n++) {
      const bytes = randomBytes(n);
      expect(toHex(sha256(bytes))).toBe(createHash("sha256").update(bytes).digest("hex"));
      expect(toBase64Url(sha256(bytes))).toBe(createHash("sha256").update(bytes).digest("base64url"));
    }
    expect(toHex(sha256("héllo ☃ 𝄞"))).toBe(createHash("sha256").update("héllo ☃ 𝄞").digest("hex"));
  });

  it("derives the same idempotency keys and task ids", () => {
    const args = ["seed", "counter.v1.Counter", "a/b", "increment", "first ☃"] as const;
    const browser = callKeys(sha256);
    expect(browser.deriveKey(...args)).toBe(nodeDeriveKey(...args));
    expect(browser.taskIdForKey("some key")).toBe(nodeTaskIdForKey("some key"));
  });
});

describe("static files next to the API", () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "cairn-static-"));
    await mkdir(path.join(root, "site/sub"), { recursive: true });
    await writeFile(path.join(root, "secret.txt"), "outside");
    await writeFile(path.join(root, "site/index.html"), "<p>hi</p>");
    await writeFile(path.join(root, "site/sub/a.js"), "1");
    await writeFile(path.join(root, "site/.env"), "x");
    await symlink(path.join(root, "secret.txt"), path.join(root, "site/link.txt"));
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it("serves files and folder indexes, and nothing outside the folder", async () => {
    const site = path.join(root, "site");
    expect(await resolveFile(site, "/")).toBe(path.join(site, "index.html"));
    expect(await resolveFile(site, "/sub/a.js?v=1")).toBe(path.join(site, "sub/a.js"));
    for (const bad of [
      "/../secret.txt",
      "/%2e%2e/secret.txt",
      "/sub/..%2f..%2fsecret.txt",
      "/sub%5c..%5c..%5csecret.txt",
      "/.env",
      "/link.txt",
      "/missing",
      "/%zz",
      "/a%00.js",
    ]) {
      expect(await resolveFile(site, bad), bad).toBeUndefined();
    }
  });
});

describe("WebContext against an application", () => {
  let app: Application;
  let dataDir: string;
  let staticDir: string;
  let node: ExternalContext;
  let url: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), "cairn-web-"));
    staticDir = path.join(dataDir, "www");
    await mkdir(staticDir);
    await writeFile(path.join(staticDir, "index.html"), "<!doctype html><p>counter</p>");
    app = await new Application({
      servicers: [CounterServicerImpl, AccountServicerImpl],
      dataDir: path.join(dataDir, "db"),
      port: 0,
      tokenVerifier: hmacTokenVerifier(BANK_TOKEN_SECRET),
      staticDir,
    }).start();
    url = app.url;
    node = new ExternalContext({ url });
  });
  afterAll(async () => {
    node?.close();
    await app?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("serves the page on the RPC port, and RPCs still win", async () => {
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await page.text()).toContain("counter");
    expect((await fetch(`${url}/nope.js`)).status).toBe(404);
    expect((await fetch(`${url}/`, { method: "POST" })).status).toBe(404);
    const rpc = await fetch(`${url}/counter.v1.CounterMethods/Value`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-cairn-actor-id": "static-check" },
      body: "{}",
    });
    expect(rpc.status).toBe(200);
  });

  it("invokes, watches, and replays idempotent calls like the Node client", async () => {
    const ctx = new WebContext({ url, idempotencySeed: "shared-seed" });
    const ref = Counter.ref("web-invoke");
    expect((await ref.increment(ctx, { by: 2n, who: "web" })).value).toBe(2n);

    const seen: bigint[] = [];
    const abort = new AbortController();
    const watching = (async () => {
      for await (const r of ref.reactively(abort.signal).value(ctx)) {
        seen.push(r.value);
        if (r.value === 5n) break;
      }
    })();
    await expect.poll(() => seen.length, { timeout: PATIENCE_MS }).toBeGreaterThan(0);
    // Each step bounded and named: a loaded run once timed out here (60 s) without saying where.
    await within(NodeCounter.ref("web-invoke").increment(node, { by: 3n, who: "node" }), PATIENCE_MS, "the Node client's increment");
    await within(watching, PATIENCE_MS, `the web watch to see 5 (saw ${seen.join(", ")})`);
    expect(seen).toEqual([2n, 5n]);

    // Same seed and alias from a Node client: the same key, so a replay.
    const nodeSameSeed = new ExternalContext({ url, idempotencySeed: "shared-seed" });
    try {
      const first = await within(ref.idempotently("once").increment(ctx, { by: 10n }), PATIENCE_MS, "the web client's keyed increment");
      const again = await within(
        NodeCounter.ref("web-invoke").idempotently("once").increment(nodeSameSeed, { by: 10n }),
        PATIENCE_MS,
        "the Node client's replay",
      );
      expect(again.value).toBe(first.value);
      expect((await ref.value(ctx)).value).toBe(15n);
    } finally {
      nodeSameSeed.close();
    }
  });

  it("throws the method's typed Aborted, and spawns and waits for tasks", async () => {
    const alice = new WebContext({ url, bearerToken: signHmacToken({ sub: "alice" }, BANK_TOKEN_SECRET) });
    const [account] = await Account.create(alice, `alice-${Date.now()}`, { owner: "alice", initial: 10n });
    const err = await account.withdraw(alice, { amount: 25n }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WithdrawAborted);
    expect((err as WithdrawAborted).error.shortBy).toBe(15n);

    const task = account.idempotently({ key: `dep-${Date.now()}` }).spawn().deposit(alice, { amount: 5n });
    expect(task.taskId).toMatch(/^k-[0-9a-f]{32}$/);
    expect((await task).balance).toBe(15n);
    const unkeyed = account.spawn().deposit(alice, { amount: 1n });
    expect((await unkeyed).balance).toBe(16n);
  });

  it("LiveQuery: live, and read-your-writes after each mutation through the same context", async () => {
    const ctx = new WebContext({ url });
    const other = new ExternalContext({ url });
    const ref = Counter.ref(`ryw-${Date.now()}`);
    const query = new LiveQuery<ValueResponse>(ctx, ref.invocation("value", {}));
    expect(query.getSnapshot()).toMatchObject({ isLoading: true, response: undefined });
    let renders = 0;
    const unsubscribe = query.subscribe(() => renders++);
    try {
      await expect.poll(() => query.getSnapshot().isLoading, { timeout: PATIENCE_MS }).toBe(false);
      expect(query.getSnapshot().response?.value).toBe(0n);

      // Another client's write shows up on its own.
      await NodeCounter.ref(ref.id).increment(other, { by: 100n });
      await expect.poll(() => query.getSnapshot().response?.value, { timeout: PATIENCE_MS }).toBe(100n);

      // Our own writes: the snapshot is fresh the moment the promise resolves,
      // even with another client writing concurrently.
      let racing = true;
      const noise = (async () => {
        while (racing) await NodeCounter.ref(ref.id).increment(other, { by: 1n });
      })();
      for (let i = 0; i < 25; i++) {
        const { value } = await ref.increment(ctx, { by: 1000n });
        const shown = query.getSnapshot().response!.value;
        expect(shown >= value, `after increment #${i} returned ${value}, the query showed ${shown}`).toBe(true);
      }
      racing = false;
      await noise;
      expect(query.getSnapshot().error).toBeUndefined();
      expect(renders).toBeGreaterThan(0);
    } finally {
      unsubscribe();
      other.close();
    }
    // Unsubscribed: nothing held, and writes no longer wait for it.
    expect(query.getSnapshot().isLoading).toBe(true);
    await ref.increment(ctx, { by: 1n });
  });

  it("LiveQuery reports a failing stream as an error and keeps retrying", async () => {
    const ctx = new WebContext({ url });
    // Not a reader: refused up front.
    expect(() => new LiveQuery(ctx, Counter.ref("x").invocation("increment", {}))).toThrow(/only readers/);
    // A token the verifier rejects: the stream fails; the query says so and keeps retrying.
    const bad = new WebContext({ url, bearerToken: "not-a-valid-token" });
    const query = new LiveQuery(bad, Account.ref("nobody").invocation("balance", {}), { retryMs: 20, maxRetryMs: 40 });
    const unsubscribe = query.subscribe(() => undefined);
    try {
      await expect.poll(() => query.getSnapshot().error, { timeout: PATIENCE_MS }).toBeDefined();
      expect(query.getSnapshot().isLoading).toBe(false);
    } finally {
      unsubscribe();
    }
  });
});

describe("aborting a web watch after a garbage collection (nodejs/undici#4627)", () => {
  // Node 20's fetch could drop the abort once GC took its internal Request: the
  // watch loops hung and the server kept re-running their readers. The child
  // bounds that hang itself (2 x 60 s); passing takes seconds.
  it("ends every stream, on both sides (child process, --expose-gc)", { timeout: 200_000 }, async () => {
    const r = await runGcFixture<{ watches: number; ended: number; serverRerunsAfterAbort: number }>(
      "test/fixtures/web-watch-abort.ts",
      180_000,
    );
    expect(r.ended).toBe(r.watches);
    expect(r.serverRerunsAfterAbort).toBe(0);
  });
});
