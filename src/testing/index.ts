import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Application, type ApplicationOptions, type ApplicationStats } from "../server/application.js";
import { defaultLogger } from "../server/default-logger.js";
import type { Logger } from "../api/logger.js";
import type { StoreHealthStatus } from "../runtime/store-health.js";
import { AdjustableClock } from "../runtime/clock.js";
import { ExternalContext, type ExternalContextOptions } from "../client/external-context.js";

export type TestApplicationOptions = Omit<ApplicationOptions, "dataDir" | "port" | "host" | "clock">;

export { AdjustableClock };

/**
 * An application for tests: a real server on a free loopback port with a
 * real LMDB store in a temporary folder, removed by `stop()`. It logs
 * nothing unless CAIRN_LOG_LEVEL (e.g. "debug") or a `logger` is given.
 */
export class TestApplication {
  #app: Application;
  readonly #contexts = new Set<ExternalContext>();
  /** One logger across restarts: silent unless CAIRN_LOG_LEVEL or the `logger` option says otherwise. */
  readonly #logger: Logger;
  /**
   * The application's time: real time until `app.clock.advance("1h")`
   * moves it forward, firing the task timers, sleeps, Loop and backoff
   * waits and cron schedules it made due. Kept across `restart()`.
   */
  readonly clock = new AdjustableClock();

  private constructor(
    private readonly options: TestApplicationOptions,
    readonly dataDir: string,
  ) {
    // Tests provoke errors on purpose: their records would only bury the test's own output.
    this.#logger = options.logger ?? defaultLogger("silent");
    this.#app = this.#create(0);
  }

  static async start(options: TestApplicationOptions): Promise<TestApplication> {
    const t = new TestApplication(options, mkdtempSync(join(tmpdir(), "cairn-test-")));
    await t.#app.start();
    return t;
  }

  get url(): string {
    return this.#app.url;
  }

  /** What the running application holds in memory (waiting callers, cached actors). */
  get stats(): ApplicationStats {
    return this.#app.stats;
  }

  /** Whether the store takes writes (see Application.storeHealth). */
  get storeHealth(): StoreHealthStatus {
    return this.#app.storeHealth;
  }

  /** An ExternalContext wired to this application, closed by `stop()`. */
  context(options: Omit<ExternalContextOptions, "url"> = {}): ExternalContext {
    const ctx = new ExternalContext({ url: this.url, ...options });
    this.#contexts.add(ctx);
    return ctx;
  }

  /** Stops the runtime and starts a new one on the same data and port. */
  async restart(): Promise<void> {
    const port = this.#app.port;
    await this.#app.stop();
    this.#app = this.#create(port);
    await this.#app.start();
  }

  /** Stops the application and removes its data. */
  async stop(): Promise<void> {
    for (const ctx of this.#contexts) ctx.close();
    await this.#app.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  #create(port: number): Application {
    return new Application({ ...this.options, dataDir: this.dataDir, host: "127.0.0.1", port, clock: this.clock, logger: this.#logger });
  }
}
