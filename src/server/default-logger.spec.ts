import { describe, expect, it } from "vitest";
import type { Logger as PinoLogger } from "pino";
import { defaultLogger } from "./default-logger.js";

describe("defaultLogger", () => {
  it("takes its level from CAIRN_LOG_LEVEL (any case), else the fallback", () => {
    const levelOf = (env: NodeJS.ProcessEnv, fallback?: "info" | "silent") => (defaultLogger(fallback, env) as PinoLogger).level;
    expect(levelOf({})).toBe("info");
    expect(levelOf({}, "silent")).toBe("silent");
    expect(levelOf({ CAIRN_LOG_LEVEL: "WARN" }, "silent")).toBe("warn");
    expect(levelOf({ CAIRN_LOG_LEVEL: "debug", NODE_ENV: "production" })).toBe("debug");
  });

  it("refuses a level that does not exist, naming the ones that do", () => {
    expect(() => defaultLogger("info", { CAIRN_LOG_LEVEL: "loud" })).toThrow(
      'CAIRN_LOG_LEVEL="loud" is not a level: use one of trace, debug, info, warn, error, fatal, silent',
    );
  });
});
