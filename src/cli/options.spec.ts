import { describe, expect, it } from "vitest";
import { UsageError } from "./exit.js";
import { globalValues, parseCommand, splitCommand } from "./options.js";

describe("splitCommand", () => {
  it("takes the command words wherever the global options stand", () => {
    expect(splitCommand(["--url", "http://x", "tasks", "list", "--json"], 2)).toEqual({
      path: ["tasks", "list"],
      rest: ["--url", "http://x", "--json"],
    });
  });

  it("does not mistake a global option's value for a command word", () => {
    expect(splitCommand(["--token", "tasks", "tasks", "show", "id-1"], 2)).toEqual({
      path: ["tasks", "show"],
      rest: ["--token", "tasks", "id-1"],
    });
  });

  it("leaves words beyond the count, and everything after --, as arguments", () => {
    expect(splitCommand(["tasks", "show", "id-1", "--", "list"], 2)).toEqual({ path: ["tasks", "show"], rest: ["id-1", "--", "list"] });
    expect(splitCommand(["--url"], 2)).toEqual({ path: [], rest: ["--url"] });
  });
});

describe("parseCommand", () => {
  it("takes the command's options and the global ones", () => {
    const { values, positionals } = parseCommand(["id-1", "--json", "--url", "http://x"], { json: { type: "boolean" } }, "tasks show");
    expect(values).toMatchObject({ json: true, url: "http://x" });
    expect(positionals).toEqual(["id-1"]);
  });

  it("turns an unknown option into a usage error of the command", () => {
    const e = (() => {
      try {
        parseCommand(["--bogus"], {}, "tasks list");
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(UsageError);
    expect((e as UsageError).message).toMatch(/--bogus/);
    expect((e as UsageError).command).toBe("tasks list");
  });
});

describe("globalValues", () => {
  it("reads --url and --token leniently, ignoring what it does not know", () => {
    expect(globalValues(["tasks", "--bogus", "--url", "http://x", "--token", "t"])).toEqual({ url: "http://x", token: "t" });
    expect(globalValues(["--url"])).toEqual({ url: undefined, token: undefined });
  });
});
