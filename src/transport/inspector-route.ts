import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import type { Caller } from "../runtime/context-impl.js";
import { externalCallerOf } from "./bearer-token.js";
import type { NodeHandler } from "./server.js";
import { send, staticFiles } from "./static-files.js";

/** Where the app serves its web inspector. */
export const INSPECTOR_PATH = "/__/cairn/";
/** The cookie the inspector's page keeps the operator's token in (path-scoped to INSPECTOR_PATH, so no RPC carries it). */
export const INSPECTOR_TOKEN_COOKIE = "cairn_inspector_token";

/**
 * Who gets the inspector's page: anyone ("open", outside production: its
 * data still comes through operator calls), or only requests carrying an
 * operator's token ("operators"), in its cookie or an `authorization` header.
 */
export type InspectorAccess = "open" | "operators";

/** Files anyone may load in "operators" mode: the token prompt. */
const PUBLIC_FILES = new Set(["login.html", "login.js", "favicon.svg"]);

/**
 * The prebuilt bundle: `dist/inspector` of the package (built by `npm run
 * build`, `npm run inspector:build`). From src/transport in this repository,
 * or dist/src/transport in the package, the same two levels up.
 */
export function inspectorBundleDir(): string | undefined {
  for (const candidate of ["../../inspector/", "../../dist/inspector/"]) {
    const dir = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(`${dir}index.html`)) return dir;
  }
  return undefined;
}

/**
 * Serves the inspector under INSPECTOR_PATH before anything else sees the
 * request; other paths go to `next`. In "operators" mode a request without
 * an operator's token gets 401 and the token prompt instead of the page.
 */
export function withInspector(
  access: InspectorAccess,
  authorizeAdmin: (caller: Caller) => Promise<void>,
  next: NodeHandler,
  bundleDir = inspectorBundleDir(),
): NodeHandler {
  const files = bundleDir === undefined ? undefined : staticFiles(bundleDir, INSPECTOR_PATH);
  return (req, res) => {
    const url = req.url ?? "/";
    if (url === "/__/cairn" || url.startsWith("/__/cairn?")) {
      res.writeHead(308, { location: INSPECTOR_PATH + url.slice("/__/cairn".length) });
      return void res.end();
    }
    if (!url.startsWith(INSPECTOR_PATH)) return next(req, res);
    if (!files) return send(res, 503, "the inspector's bundle is not built: run `npm run inspector:build`");
    const file = url.slice(INSPECTOR_PATH.length).split(/[?#]/, 1)[0]!;
    if (access === "open" || PUBLIC_FILES.has(file)) return files(req, res);
    void authorizeAdmin(operatorOf(req.headers)).then(
      () => files(req, res),
      () => {
        if (file !== "" && file !== "index.html") return send(res, 401, "the inspector is for operators: sign in at " + INSPECTOR_PATH);
        // The prompt, in place of the page: it stores the token and reloads.
        void readFile(path.join(bundleDir!, "login.html")).then(
          (body) => {
            res.writeHead(401, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store", "content-length": String(body.length) });
            res.end(req.method === "HEAD" ? "" : body);
          },
          () => send(res, 401, "the inspector is for operators"),
        );
      },
    );
  };
}

/** The caller a page request stands for: its bearer token from the header, else from the inspector's cookie. */
function operatorOf(headers: Record<string, string | string[] | undefined>): Caller {
  const header = new Headers();
  const authorization = headers.authorization;
  const cookie = typeof headers.cookie === "string" ? tokenFromCookie(headers.cookie) : undefined;
  if (typeof authorization === "string") header.set("authorization", authorization);
  else if (cookie !== undefined) header.set("authorization", `Bearer ${cookie}`);
  return externalCallerOf(header);
}

function tokenFromCookie(cookie: string): string | undefined {
  for (const part of cookie.split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name !== INSPECTOR_TOKEN_COOKIE) continue;
    try {
      return decodeURIComponent(value.join("="));
    } catch {
      return undefined;
    }
  }
  return undefined;
}
