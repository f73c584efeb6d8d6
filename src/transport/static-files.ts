import * as fs from "node:fs/promises";
import * as path from "node:path";
import type { ConnectNodeAdapterOptions } from "@connectrpc/connect-node";

type Handler = NonNullable<ConnectNodeAdapterOptions["fallback"]>;
type Request = Parameters<Handler>[0];
type Response = Parameters<Handler>[1];

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
  ".wasm": "application/wasm",
};

/**
 * Serves the files under `root` for GET and HEAD requests that no RPC route
 * matched (a built web page next to its API: same origin, no CORS). `/` and
 * folders serve their `index.html`. Paths that escape `root` (`..`, encoded
 * or not), dotfiles and symlinks out of it are 404; other methods are 404 as
 * connect's own fallback would answer.
 */
export function staticFiles(root: string, urlPrefix = ""): Handler {
  const base = path.resolve(root);
  return (req, res) => {
    void serve(base, req, res, urlPrefix).catch(() => {
      if (!res.headersSent) send(res, 500, "internal error");
      else res.end();
    });
  };
}

async function serve(base: string, req: Request, res: Response, urlPrefix: string): Promise<void> {
  if (req.method !== "GET" && req.method !== "HEAD") return send(res, 404, "not found");
  const url = req.url ?? "/";
  // Served under a prefix (the inspector's /__/cairn/): paths are relative to it.
  if (!url.startsWith(urlPrefix)) return send(res, 404, "not found");
  const file = await resolveFile(base, urlPrefix === "" ? url : `/${url.slice(urlPrefix.length)}`);
  if (!file) return send(res, 404, "not found");
  const body = await fs.readFile(file);
  res.statusCode = 200;
  res.setHeader("content-type", TYPES[path.extname(file).toLowerCase()] ?? "application/octet-stream");
  res.setHeader("content-length", String(body.length));
  res.setHeader("x-content-type-options", "nosniff");
  // Vite names built assets by content hash; the page itself must stay fresh.
  res.setHeader("cache-control", file.includes(`${path.sep}assets${path.sep}`) ? "public, max-age=31536000, immutable" : "no-cache");
  if (req.method === "HEAD") res.end();
  else res.end(body);
}

/** The file under `base` a URL names, or undefined if none may be served. */
export async function resolveFile(base: string, url: string): Promise<string | undefined> {
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(url, "http://x").pathname);
  } catch {
    return undefined; // malformed percent-encoding
  }
  if (pathname.includes("\0")) return undefined;
  const segments = pathname.split(/[/\\]/).filter((s) => s.length > 0);
  if (segments.some((s) => s.startsWith("."))) return undefined; // "..", ".env", ".git"
  let file = path.join(base, ...segments);
  try {
    if ((await fs.stat(file)).isDirectory()) file = path.join(file, "index.html");
    const real = await fs.realpath(file);
    const realBase = await fs.realpath(base);
    if (real !== realBase && !real.startsWith(realBase + path.sep)) return undefined;
    return (await fs.stat(real)).isFile() ? real : undefined;
  } catch {
    return undefined;
  }
}

export function send(res: Response, status: number, text: string): void {
  res.statusCode = status;
  res.setHeader("content-type", "text/plain; charset=utf-8");
  res.setHeader("content-length", String(Buffer.byteLength(text)));
  res.end(text);
}
