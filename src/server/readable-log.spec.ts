import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { pino } from "pino";
import { readableDestination } from "./readable-log.js";

/** A pino logger at debug whose readable lines land in `out` and `err`. */
function capture() {
  const out: string[] = [];
  const err: string[] = [];
  const into = (lines: string[]) => new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(...String(chunk).split("\n").slice(0, -1)), done()) });
  const logger = pino({ name: "cairn", level: "debug" }, readableDestination(into(out), into(err)));
  return { logger, out, err };
}

describe("readableDestination", () => {
  it("info is the bare message on stdout; other levels are named", () => {
    const { logger, out, err } = capture();
    logger.info("serving on http://127.0.0.1:9991");
    logger.debug("a detail");
    logger.warn("careful");
    expect(out).toEqual(["cairn: serving on http://127.0.0.1:9991", "cairn: DEBUG a detail"]);
    expect(err).toEqual(["cairn: WARN careful"]);
  });

  it("bound and given fields follow the message; values with spaces or structure are JSON", () => {
    const { logger, out } = capture();
    logger.child({ stateType: "bank.v1.Account", actorId: "alice smith" }).info({ attempts: 2, detail: { a: 1 } }, "ran");
    expect(out).toEqual(['cairn: ran  stateType=bank.v1.Account actorId="alice smith" attempts=2 detail={"a":1}']);
  });

  it("an error's stack goes beneath, indented", () => {
    const { logger, err } = capture();
    const e = new Error("boom");
    logger.error({ err: e }, "it threw");
    expect(err[0]).toBe("cairn: ERROR it threw");
    expect(err[1]).toBe("    Error: boom");
    expect(err.length).toBe(e.stack!.split("\n").length + 1);
  });
});
