// `cairn init DIR`: writes a small working app from the package's
// templates/app, with this package's versions filled in.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import { EXIT, UsageError } from "./exit.js";
import { parseCommand } from "./options.js";
import { PACKAGE_NAME, PACKAGE_ROOT, dependencyDir, readPackageJson } from "./package-paths.js";

const HELP = `Usage: cairn init DIR [--name NAME]

Writes a new Cairn app into DIR (new or empty): a .proto with a state type and
a reader, writers, a transaction and a workflow; its servicer, a server, a
client script, a test, tsconfig.json, README.md and .gitignore. Then:

  cd DIR && npm install && npm run dev

  --name NAME   the package name in package.json (default: DIR's name)`;

/** Files npm would drop from our tarball under their real names. */
const RENAMED: Record<string, string> = { _gitignore: ".gitignore" };

/** Only these files get {{placeholders}} filled in; the rest are copied as they are. */
const TEMPLATED = new Set(["package.json", "README.md"]);

export async function initCommand(rest: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommand(rest, { name: { type: "string" } }, "init");
  const [dirArg, ...extra] = positionals;
  if (values.help) {
    console.log(HELP);
    return EXIT.ok;
  }
  if (dirArg === undefined) throw new UsageError("init needs the folder to create, e.g. cairn init my-app", "init");
  if (extra.length > 0) throw new UsageError(`unexpected ${JSON.stringify(extra[0])}`, "init");
  const dir = resolve(dirArg);
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    console.error(`cairn init: ${dir} exists and is not empty: choose a new folder`);
    return EXIT.failed;
  }
  const name = values.name ?? basename(dir).toLowerCase().replace(/[^a-z0-9._-]+/g, "-");
  const ours = readPackageJson(PACKAGE_ROOT);
  const devVersion = (pkg: string) => {
    // The versions this package is built and tested with.
    const ownDev = (ours as { devDependencies?: Record<string, string> }).devDependencies?.[pkg];
    return ownDev ?? `^${readPackageJson(dependencyDir(pkg)).version}`;
  };
  const vars: Record<string, string> = {
    name,
    cairnVersion: ours.version ?? "0.0.0",
    protobufVersion: readPackageJson(dependencyDir("@bufbuild/protobuf")).version ?? "",
    typescriptVersion: devVersion("typescript"),
    typesNodeVersion: devVersion("@types/node"),
    vitestVersion: devVersion("vitest"),
  };
  const written = copyTree(join(PACKAGE_ROOT, "templates", "app"), dir, vars);
  const shown = relative(process.cwd(), dir) || ".";
  console.log(`cairn: wrote ${written} files into ${shown}/ (an app using ${PACKAGE_NAME} ${vars.cairnVersion})

Next:
  cd ${shown}
  npm install
  npm run dev        # serves on http://127.0.0.1:9991 and restarts on every change
  npm test`);
  return EXIT.ok;
}

function copyTree(from: string, to: string, vars: Record<string, string>): number {
  mkdirSync(to, { recursive: true });
  let count = 0;
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    const target = join(to, RENAMED[entry.name] ?? entry.name);
    if (entry.isDirectory()) {
      count += copyTree(source, target, vars);
    } else if (TEMPLATED.has(entry.name)) {
      const text = readFileSync(source, "utf8").replace(/\{\{(\w+)\}\}/g, (m, key: string) => vars[key] ?? m);
      writeFileSync(target, text);
      count++;
    } else {
      copyFileSync(source, target);
      count++;
    }
  }
  return count;
}
