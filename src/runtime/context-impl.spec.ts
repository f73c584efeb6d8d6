import { describe, expect, it } from "vitest";
import { MAY_CALL, MAY_SCHEDULE, MAY_SPAWN, MAY_WATCH, type ContextKind } from "../api/capabilities.js";
import { CAPABILITIES, mayCall } from "./context-impl.js";

const KINDS = Object.keys(CAPABILITIES) as ContextKind[];
const HANDLERS = KINDS.filter((k) => k !== "external");
const has = (list: readonly string[], kind: string) => list.includes(kind);

describe("the capability table", () => {
  it("refuses exactly what src/api/capabilities.ts (the generated refs' types) does not allow", () => {
    for (const kind of HANDLERS) {
      const refuse = CAPABILITIES[kind].refuse;
      expect([kind, refuse.spawn !== undefined]).toEqual([kind, !has(MAY_SPAWN, kind)]);
      expect([kind, refuse.schedule !== undefined]).toEqual([kind, !has(MAY_SCHEDULE, kind)]);
      for (const what of ["watch", "wait", "control"] as const) {
        expect([kind, what, refuse[what] !== undefined]).toEqual([kind, what, !has(MAY_WATCH, kind)]);
      }
    }
  });

  it("readers and writers call readers only; the rest call every kind", () => {
    expect(KINDS.map((k) => [k, MAY_CALL[k].join(",")])).toEqual([
      ["reader", "reader"],
      ["writer", "reader"],
      ["transaction", "reader,writer,transaction,workflow"],
      ["workflow", "reader,writer,transaction,workflow"],
      ["external", "reader,writer,transaction,workflow"],
    ]);
    expect(mayCall("writer", "writer")).toBe(false);
    expect(mayCall("transaction", "writer")).toBe(true);
  });
});
