// A token verifier's own refusal reaches the caller with its code and
// message (DESIGN.md §7): a CallError (as jwtVerifier throws) or a
// ConnectError; anything else it throws is the generic UNAUTHENTICATED.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError, Unavailable, Unauthenticated, type TokenVerifier } from "@cairn-dev/cairn";
import { TestApplication } from "@cairn-dev/cairn/testing";
import { Probe } from "../generated/probe/v1/probe_cairn.js";
import { ProbeServicerImpl } from "./fixtures/probe-servicer.js";

const REFUSALS: Record<string, () => never> = {
  "call-error": () => {
    throw new Unauthenticated("token expired at noon");
  },
  unavailable: () => {
    throw new Unavailable("the identity provider is down");
  },
  "connect-error": () => {
    throw new ConnectError("wrong tenant", Code.PermissionDenied);
  },
  plain: () => {
    throw new Error("a bug in the verifier, not for callers' eyes");
  },
};

const verifier: TokenVerifier = (token) => {
  const refuse = REFUSALS[token];
  if (refuse) refuse();
  return { sub: token };
};

let app: TestApplication;
beforeAll(async () => {
  app = await TestApplication.start({ servicers: [ProbeServicerImpl], tokenVerifier: verifier, insecureDevelopmentMode: true });
});
afterAll(async () => {
  await app?.stop();
});

async function refusalOf(bearerToken: string): Promise<ConnectError> {
  try {
    await Probe.ref("v").get(app.context({ bearerToken }));
  } catch (e) {
    return ConnectError.from(e);
  }
  throw new Error("the call was allowed");
}

describe("a token verifier's refusal", () => {
  it.each([
    ["call-error", Code.Unauthenticated, "token expired at noon"],
    ["unavailable", Code.Unavailable, "the identity provider is down"],
    ["connect-error", Code.PermissionDenied, "wrong tenant"],
    ["plain", Code.Unauthenticated, "the bearer token is not valid"],
  ])("%s reaches the caller as its code and message", async (token, code, message) => {
    const e = await refusalOf(token);
    expect(e.code).toBe(code);
    expect(e.rawMessage).toBe(message);
  });

  it("a token it accepts gets through", async () => {
    await expect(Probe.ref("v").get(app.context({ bearerToken: "fine" }))).resolves.toBeDefined();
  });
});
