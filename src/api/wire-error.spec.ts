import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { OverdraftErrorSchema } from "../../generated/bank/v1/account_pb.js";
import { Account, WithdrawAborted } from "../../generated/bank/v1/account_cairn.js";
import { errorFromJsonBytes, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { Aborted, AlreadyExists, CallError, FailedPrecondition, NotFound, StoreUnavailable, Unavailable, internal } from "./errors.js";
import { fromWireError, toWireError } from "./wire-error.js";

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

describe("fromWireError", () => {
  /** As a call another node answered: mapped, sent as Connect's JSON error, read back. */
  const across = (e: unknown, method = Account.spec.methods["withdraw"]) => {
    const fallback = new ConnectError("fallback", Code.Unknown);
    return fromWireError(errorFromJsonBytes(errorToJsonBytes(toWireError(e, method), {}), undefined, fallback), method);
  };

  it("gives back the method's typed error with its detail, as in one process", () => {
    const back = across(new WithdrawAborted(create(OverdraftErrorSchema, { shortBy: 7n }), "short by 7"));
    expect(back).toBeInstanceOf(WithdrawAborted);
    expect((back as WithdrawAborted).error.shortBy).toBe(7n);
    expect((back as WithdrawAborted).message).toBe("short by 7");
  });

  it("gives back Cairn's class for each code, with the message", () => {
    for (const e of [new NotFound("no actor"), new AlreadyExists("exists"), new FailedPrecondition("key reused"), new Unavailable("node 1 (u) is unavailable: x")]) {
      const back = across(e);
      expect(back).toBeInstanceOf(e.constructor);
      expect(back.message).toBe(e.message);
    }
    const odd = across(new ConnectError("slow down", Code.ResourceExhausted));
    expect(odd).toBeInstanceOf(CallError);
    expect((odd as CallError).code).toBe(Code.ResourceExhausted);
  });
});
