// Where the cairn package and the packages it runs (buf, protoc-gen-es, tsx)
// are on disk, found the way node finds them: up the node_modules folders.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const PACKAGE_NAME = "@cairn-dev/cairn";

interface PackageJson {
  name?: string;
  version?: string;
  bin?: string | Record<string, string>;
}

export function readPackageJson(dir: string): PackageJson {
  return JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as PackageJson;
}

/** This package's root: the folder above this file with our package.json (src/ or dist/src/). */
export const PACKAGE_ROOT: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "package.json")) && readPackageJson(dir).name === PACKAGE_NAME) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`cairn: cannot find the ${PACKAGE_NAME} package around ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
})();

/** True when running from the TypeScript sources (tests in this repository), not from dist/. */
export const FROM_SOURCE = fileURLToPath(import.meta.url).endsWith(".ts");

/** The folder of package `name` as node would resolve it from `fromDir`, or undefined. */
export function findPackageDir(name: string, fromDir: string): string | undefined {
  let dir = fromDir;
  for (;;) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return candidate;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/** The folder of a package cairn itself depends on; a clear error when it is missing. */
export function dependencyDir(name: string): string {
  const dir = findPackageDir(name, PACKAGE_ROOT);
  if (dir === undefined) throw new Error(`cairn: cannot find ${name}, a dependency of ${PACKAGE_NAME}: reinstall it (npm install)`);
  return dir;
}

/** The path of `binName` in the package `name` that cairn depends on. */
export function dependencyBin(name: string, binName: string): string {
  const dir = dependencyDir(name);
  const { bin } = readPackageJson(dir);
  const rel = typeof bin === "string" ? bin : bin?.[binName];
  if (rel === undefined) throw new Error(`cairn: ${name} has no "${binName}" executable`);
  return join(dir, rel);
}
