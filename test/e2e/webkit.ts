// WebKit (Safari's engine) for the browser end-to-end tests: Debian's
// webkit2gtk-driver (WebKitWebDriver, which drives WebKitGTK's MiniBrowser),
// spoken to with the W3C WebDriver classic protocol over fetch. Safari itself
// is macOS only; Playwright's WebKit is its own download, not available here.
// MiniBrowser needs an X display: without DISPLAY we start our own Xvfb,
// which picks a free display number itself (-displayfd), so parallel suites
// never collide. Driver and Xvfb are started, and stopped, by PID.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { warnSkipped } from "./chromium.js";

export const WEBKIT_DRIVER = process.env.CAIRN_WEBKIT_DRIVER ?? "/usr/bin/WebKitWebDriver";
export const XVFB = "/usr/bin/Xvfb";
const HAVE_DISPLAY = Boolean(process.env.DISPLAY) || existsSync(XVFB);
export const HAVE_WEBKIT = existsSync(WEBKIT_DRIVER) && HAVE_DISPLAY;
export const WEBKIT_SKIP_REASON = !existsSync(WEBKIT_DRIVER)
  ? `${WEBKIT_DRIVER} not found (install Debian's webkit2gtk-driver: apt-get install -y webkit2gtk-driver)`
  : `no X display: DISPLAY is unset and ${XVFB} is missing (apt-get install -y xvfb)`;

/** Says loudly, once per file, that `what` is skipped: it never passes without having run. */
export function warnIfNoWebKit(what: string): void {
  if (!HAVE_WEBKIT) warnSkipped(what, WEBKIT_SKIP_REASON);
}

/** The W3C name under which an element reference travels. */
const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";
/** How long a driver or display may take to come up on busy cores. */
const START_MS = 60_000;

export type Locator = { readonly css: string } | { readonly xpath: string };

/** A WebDriver session on MiniBrowser, with the driver and display it owns. */
export class WebKitSession {
  private constructor(
    private readonly base: string,
    private readonly sessionId: string,
    private readonly owned: readonly ChildProcess[],
  ) {}

  /** Starts Xvfb (when there is no DISPLAY), WebKitWebDriver on 127.0.0.1, and a session. */
  static async launch(): Promise<WebKitSession> {
    const owned: ChildProcess[] = [];
    try {
      const env = { ...process.env };
      if (!env.DISPLAY) {
        const [xvfb, display] = await startXvfb();
        owned.push(xvfb);
        env.DISPLAY = display;
      }
      const port = await freePort();
      const driver = spawn(WEBKIT_DRIVER, [`--port=${port}`, "--host=127.0.0.1"], { env, stdio: ["ignore", "ignore", "pipe"] });
      owned.push(driver);
      const stderr = tail(driver);
      const base = `http://127.0.0.1:${port}`;
      await waitReady(base, driver, stderr);
      const created = await command(base, "POST", "/session", {
        capabilities: {
          alwaysMatch: {
            // Prompts stay open until the test answers them (a dismissed confirm would pass silently).
            unhandledPromptBehavior: "ignore",
            "webkitgtk:browserOptions": { args: ["--automation"] },
          },
        },
      });
      const session = new WebKitSession(base, (created as { sessionId: string }).sessionId, owned);
      await session.call("POST", "/window/rect", { width: 1280, height: 860 });
      return session;
    } catch (e) {
      stopAll(owned);
      throw e;
    }
  }

  private call(method: string, path: string, body?: unknown): Promise<unknown> {
    return command(this.base, method, `/session/${this.sessionId}${path}`, body);
  }

  async navigate(url: string): Promise<void> {
    await this.call("POST", "/url", { url });
  }

  /** Runs `script` (a function body; `arguments` holds `args`) in the page and returns its value. */
  async execute<T>(script: string, ...args: unknown[]): Promise<T> {
    return (await this.call("POST", "/execute/sync", { script, args })) as T;
  }

  /** The element ids `locator` finds now (none: empty). */
  async findAll(locator: Locator): Promise<string[]> {
    const by = "css" in locator ? { using: "css selector", value: locator.css } : { using: "xpath", value: locator.xpath };
    const found = (await this.call("POST", "/elements", by)) as Array<Record<string, string>>;
    return found.map((e) => e[ELEMENT]!);
  }

  /** The first element `locator` finds, waiting up to `timeoutMs` for one to appear. */
  async waitFor(locator: Locator, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [first] = await this.findAll(locator);
      if (first) return first;
      if (Date.now() > deadline) throw new Error(`no element for ${JSON.stringify(locator)} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100)); // a poll interval, not a wait for a condition
    }
  }

  /** Clicks `element` with the driver's simulated pointer (scrolled into view, hit-tested). */
  async click(element: string): Promise<void> {
    await this.call("POST", `/element/${element}/click`, {});
  }

  async text(element: string): Promise<string> {
    return (await this.call("GET", `/element/${element}/text`)) as string;
  }

  /** The text of the open prompt (alert, confirm), or null while there is none. */
  async promptText(): Promise<string | null> {
    try {
      return (await this.call("GET", "/alert/text")) as string;
    } catch (e) {
      if (e instanceof WebDriverError && e.error === "no such alert") return null;
      throw e;
    }
  }

  async acceptPrompt(): Promise<void> {
    await this.call("POST", "/alert/accept", {});
  }

  /** Saves a PNG of the window's viewport to `file`. */
  async screenshot(file: string): Promise<void> {
    const png = (await this.call("GET", "/screenshot")) as string;
    await writeFile(file, Buffer.from(png, "base64"));
  }

  /** Ends the session, then the driver and the display it started. */
  async close(): Promise<void> {
    try {
      await this.call("DELETE", "");
    } finally {
      stopAll(this.owned);
    }
  }
}

export class WebDriverError extends Error {
  constructor(
    readonly error: string,
    message: string,
  ) {
    super(`WebDriver ${error}: ${message}`);
  }
}

/** One WebDriver command: its `value`, or a WebDriverError with the driver's error code. */
async function command(base: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(base + path, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json; charset=utf-8" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(START_MS * 2),
  });
  const json = (await response.json()) as { value: unknown };
  const value = json.value as { error?: string; message?: string } | null;
  if (!response.ok || (value && typeof value === "object" && typeof value.error === "string")) {
    throw new WebDriverError(value?.error ?? `HTTP ${response.status}`, value?.message ?? JSON.stringify(json));
  }
  return json.value;
}

/** Xvfb on a display number it picks and writes to fd 3 (-displayfd). */
function startXvfb(): Promise<[ChildProcess, string]> {
  const xvfb = spawn(XVFB, ["-displayfd", "3", "-screen", "0", "1280x860x24", "-nolisten", "tcp"], { stdio: ["ignore", "ignore", "pipe", "pipe"] });
  const stderr = tail(xvfb);
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => fail(new Error(`Xvfb gave no display within ${START_MS} ms: ${stderr()}`)), START_MS);
    const fail = (e: Error) => {
      clearTimeout(timer);
      xvfb.kill("SIGKILL");
      reject(e);
    };
    xvfb.once("error", fail);
    xvfb.once("exit", (code) => fail(new Error(`Xvfb exited ${code} before giving a display: ${stderr()}`)));
    (xvfb.stdio[3] as NodeJS.ReadableStream).on("data", (d: Buffer) => {
      out += d.toString();
      if (!out.includes("\n")) return;
      clearTimeout(timer);
      xvfb.removeAllListeners("exit");
      resolve([xvfb, `:${out.trim()}`]);
    });
  });
}

/** Waits for the driver's /status to say ready (or the driver to die, with its stderr). */
async function waitReady(base: string, driver: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + START_MS;
  for (;;) {
    if (driver.exitCode !== null || driver.signalCode !== null) throw new Error(`WebKitWebDriver exited (${driver.exitCode ?? driver.signalCode}): ${stderr()}`);
    try {
      const status = (await command(base, "GET", "/status")) as { ready?: boolean };
      if (status.ready) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`WebKitWebDriver not ready within ${START_MS} ms: ${stderr()}`);
    await new Promise((r) => setTimeout(r, 100)); // a poll interval
  }
}

/** A port free on 127.0.0.1 now (the kernel's pick; the driver binds it right after). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** The last 4 KiB a child wrote to stderr, for error messages. */
function tail(child: ChildProcess): () => string {
  let text = "";
  child.stderr?.on("data", (d: Buffer) => (text = (text + d.toString()).slice(-4096)));
  return () => text;
}

function stopAll(children: readonly ChildProcess[]): void {
  // The driver first, then the display its browser draws on; each by its own PID.
  for (const child of [...children].reverse()) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  }
}
