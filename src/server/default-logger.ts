import { pino } from "pino";
import type { Logger } from "../api/logger.js";
import { readableDestination } from "./readable-log.js";

/** The levels CAIRN_LOG_LEVEL may name, most verbose first. */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * The logger an application writes to unless given one (pino): JSON lines
 * on stdout when NODE_ENV=production, for log shippers; readable lines
 * otherwise. The level is CAIRN_LOG_LEVEL, else `fallback`.
 */
export function defaultLogger(fallback: LogLevel = "info", env: NodeJS.ProcessEnv = process.env): Logger {
  const options = { name: "cairn", level: logLevel(env.CAIRN_LOG_LEVEL, fallback) };
  if (env.NODE_ENV === "production") {
    return pino({ ...options, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } });
  }
  return pino(options, readableDestination());
}

function logLevel(given: string | undefined, fallback: LogLevel): LogLevel {
  if (given === undefined || given === "") return fallback;
  const level = given.toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new Error(`CAIRN_LOG_LEVEL=${JSON.stringify(given)} is not a level: use one of ${LOG_LEVELS.join(", ")}`);
  }
  return level as LogLevel;
}
