import { describe, expect, it } from "vitest";
import { hmacTokenVerifier, signHmacToken } from "./hmac-token.js";

const verify = hmacTokenVerifier("s3cret");

describe("HMAC tokens", () => {
  it("verify with the secret they were signed with, giving back the claims", () => {
    const claims = { sub: "alice", roles: ["admin"] };
    expect(verify(signHmacToken(claims, "s3cret"))).toEqual(claims);
  });

  it("are refused with another secret, or once changed", () => {
    const token = signHmacToken({ sub: "alice" }, "s3cret");
    expect(verify(signHmacToken({ sub: "alice" }, "other"))).toBeUndefined();
    const [payload, mac] = token.split(".") as [string, string];
    const forged = Buffer.from(JSON.stringify({ sub: "root" })).toString("base64url");
    expect(verify(`${forged}.${mac}`)).toBeUndefined();
    expect(verify(`${payload}.${mac.slice(0, -1)}`)).toBeUndefined();
    expect(verify(`${payload}.${mac.slice(0, -1)}${mac.endsWith("A") ? "B" : "A"}`)).toBeUndefined();
  });

  it("are refused in any other shape", () => {
    const token = signHmacToken({ sub: "alice" }, "s3cret");
    for (const bad of ["", "abc", ".", `${token}.x`, `.${token.split(".")[1]}`, `${token.split(".")[0]}.`]) {
      expect(verify(bad)).toBeUndefined();
    }
  });

  it("are refused once `exp` (epoch seconds) has passed", () => {
    const now = Math.floor(Date.now() / 1000);
    expect(verify(signHmacToken({ sub: "a", exp: now + 3_600 }, "s3cret"))).toMatchObject({ sub: "a" });
    expect(verify(signHmacToken({ sub: "a", exp: now - 1 }, "s3cret"))).toBeUndefined();
  });
});
