import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { OverdraftErrorSchema } from "../../generated/bank/v1/account_pb.js";
import { Account } from "../../generated/bank/v1/account_cairn.js";
import { Aborted, CallError, NotFound, StoreUnavailable, internal } from "./errors.js";
import { toWireError } from "./wire-error.js";

describe("toWireError", () => {
  it("sends a CallError as its code and message, keeping it as the cause", () => {
    const e = new NotFound("no task \"t\"");
    const wire = toWireError(e);
    expect(wire.code).toBe(Code.NotFound);
    expect(wire.rawMessage).toBe("no task \"t\"");
    expect(wire.cause).toBe(e);
    expect(toWireError(new StoreUnavailable("disk full (x)")).code).toBe(Code.Unavailable);
    expect(toWireError(internal("X.Y failed: boom")).rawMessage).toBe("X.Y failed: boom");
  });

  it("sends a declared error as ABORTED with the error as a detail, an undeclared one as INTERNAL", () => {
    const method = Account.spec.methods["withdraw"]!;
    const error = create(OverdraftErrorSchema, { shortBy: 3n });
    const wire = toWireError(new Aborted(error, "short"), method);
    expect(wire.code).toBe(Code.Aborted);
    expect(wire.findDetails(OverdraftErrorSchema)).toEqual([error]);
    const other = Account.spec.methods["deposit"]!;
    expect(toWireError(new Aborted(error, "short"), other).code).toBe(Code.Internal);
  });

  it("passes a ConnectError through and hides anything else as INTERNAL", () => {
    const own = new ConnectError("mine", Code.ResourceExhausted);
    expect(toWireError(own)).toBe(own);
    const hidden = toWireError(new Error("secret path /etc/x"));
    expect(hidden.code).toBe(Code.Internal);
    expect(hidden.rawMessage).toBe("internal error");
    expect(new NotFound("x")).toBeInstanceOf(CallError);
  });
});
