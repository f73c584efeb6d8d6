// The one-way layers of DESIGN.md §10, checked on the source: each rule
// names a folder and the folders it may not import (type imports count:
// they couple the code as much).
import { readdir, readFile } from "node:fs/promises";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const REPO = fileURLToPath(new URL("../", import.meta.url));

const RULES: ReadonlyArray<{ readonly folder: string; readonly mayNotImport: readonly string[] }> = [
  // Refs, specs, errors and wire names: what browser and server share.
  { folder: "src/api", mayNotImport: ["src/client", "src/web", "src/react", "src/runtime", "src/server", "src/transport", "src/store", "src/cli"] },
  { folder: "src/client", mayNotImport: ["src/runtime", "src/server", "src/transport", "src/store", "src/web", "src/cli"] },
  { folder: "src/web", mayNotImport: ["src/runtime", "src/server", "src/transport", "src/store", "src/cli"] },
  { folder: "src/react", mayNotImport: ["src/runtime", "src/server", "src/transport", "src/store", "src/cli"] },
  // The inspector's page: a browser bundle over cairn/web and cairn/react, like any app's page.
  { folder: "src/inspector", mayNotImport: ["src/runtime", "src/server", "src/transport", "src/store", "src/cli", "src/client"] },
  // The wire face asks the runtime and task layers, and maps their records.
  { folder: "src/transport", mayNotImport: ["src/store", "src/server", "src/client", "src/web", "src/cli"] },
  { folder: "src/cli", mayNotImport: ["src/server", "src/transport", "src/store"] },
  // The engine knows nothing of its wire face or of who wires it.
  { folder: "src/runtime", mayNotImport: ["src/server", "src/transport", "src/client", "src/web", "src/react", "src/cli"] },
  // Tasks below workflows: the workflow runner is injected into the dispatcher.
  { folder: "src/runtime/tasks", mayNotImport: ["src/runtime/workflow"] },
  // The runtime's core below workflows too: what both need (durations) lives in the core.
  { folder: "src/runtime", mayNotImport: ["src/runtime/workflow"] },
];

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(path.join(REPO, dir), { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && /\.tsx?$/.test(e.name))
    .map((e) => path.relative(REPO, path.join(e.parentPath, e.name)));
}

/** The repository paths a file imports (relative specifiers only). */
async function importsOf(file: string): Promise<string[]> {
  const text = await readFile(path.join(REPO, file), "utf8");
  const specs = [...text.matchAll(/^\s*(?:import|export)\b[^"';]*?["'](\.{1,2}\/[^"']+)["']/gm)].map((m) => m[1]!);
  return specs.map((s) => path.relative(REPO, path.resolve(path.dirname(path.join(REPO, file)), s)));
}

describe("imports point one way", () => {
  for (const rule of RULES) {
    it(`${rule.folder} imports nothing from ${rule.mayNotImport.join(", ")}`, async () => {
      const crossings: string[] = [];
      for (const file of await sourceFiles(rule.folder)) {
        // A folder's own files may import each other (src/runtime/workflow within src/runtime).
        if (rule.mayNotImport.some((f) => file.startsWith(`${f}/`))) continue;
        for (const target of await importsOf(file)) {
          if (rule.mayNotImport.some((f) => target.startsWith(`${f}/`))) crossings.push(`${file} -> ${target}`);
        }
      }
      expect(crossings).toEqual([]);
    });
  }
});

describe("one error vocabulary", () => {
  it("the runtime and the store throw Cairn's errors and build no ConnectError (src/api/wire-error.ts maps them)", async () => {
    const builders: string[] = [];
    for (const file of [...(await sourceFiles("src/runtime")), ...(await sourceFiles("src/store"))]) {
      if (file.endsWith(".spec.ts")) continue;
      const text = await readFile(path.join(REPO, file), "utf8");
      if (/new ConnectError\b|ConnectError\.from\b/.test(text)) builders.push(file);
    }
    expect(builders).toEqual([]);
  });
});

describe("one way to log", () => {
  it("nothing under src/ but the CLI's user-facing output calls console: the server logs through its Logger", async () => {
    const callers: string[] = [];
    for (const file of await sourceFiles("src")) {
      if (file.startsWith(`src${path.sep}cli${path.sep}`)) continue;
      const text = await readFile(path.join(REPO, file), "utf8");
      for (const [i, line] of text.split("\n").entries()) {
        if (/\bconsole\s*\.\s*\w+/.test(line.replace(/\/\/.*$/, ""))) callers.push(`${file}:${i + 1}: ${line.trim()}`);
      }
    }
    expect(callers).toEqual([]);
  });
});

describe("rooms of a readable size (DESIGN.md §12)", () => {
  it("no file under src/ is over 400 lines, and runtime.ts, the dispatcher by kind, at most 250", async () => {
    const long: string[] = [];
    for (const file of await sourceFiles("src")) {
      const lines = (await readFile(path.join(REPO, file), "utf8")).split("\n").length - 1;
      const limit = file === path.join("src", "runtime", "runtime.ts") ? 250 : 400;
      if (lines > limit) long.push(`${file}: ${lines} lines (at most ${limit})`);
    }
    expect(long).toEqual([]);
  });
});
