// JWTs from an identity provider (issue 13, item 9): `jwtVerifier` checks
// the signature (a JWKS served on 127.0.0.1, or one public key), `iss`,
// `aud`, `exp`/`nbf`, refuses `alg: none` and HS-vs-RS confusion, and a
// refused token is UNAUTHENTICATED saying why, through a real server.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { createSecretKey } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, importJWK, type CryptoKey, type JWK } from "jose";
import { Authorizer, Code, ConnectError, allowIf, jwtVerifier, type Claims } from "@cairn-dev/cairn";
import { TestApplication } from "@cairn-dev/cairn/testing";
import { Probe } from "../generated/probe/v1/probe_cairn.js";
import { ProbeServicerImpl } from "./fixtures/probe-servicer.js";

const ISSUER = "https://idp.test";
const AUDIENCE = "cairn-tests";

/** What the authorizer was shown, by the caller's `sub`. */
const seen = new Map<string, Claims>();

/** Anyone whose token verified; the predicate records the claims it sees. */
class JwtProbe extends ProbeServicerImpl {
  override authorizer() {
    return new Authorizer<Probe>({
      default: allowIf({
        all: [
          ({ context }) => {
            if (context.claims === undefined) return false;
            seen.set(String(context.claims.sub), context.claims);
            return true;
          },
        ],
      }),
    });
  }
}

interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
}

async function signingKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" } };
}

function token(key: SigningKey, edit: (jwt: SignJWT) => SignJWT = (j) => j, claims: Record<string, unknown> = { sub: "alice", role: "admin" }): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: key.kid }).setIssuer(ISSUER).setAudience(AUDIENCE).setIssuedAt().setExpirationTime("5m");
  return edit(jwt).sign(key.privateKey);
}

/** A JWKS endpoint whose keys the test rotates; counts fetches. */
let jwks: http.Server;
let published: JWK[] = [];
let fetches = 0;
let keyA: SigningKey, keyB: SigningKey, stranger: SigningKey;
let app: TestApplication;
let pemApp: TestApplication;

beforeAll(async () => {
  [keyA, keyB, stranger] = await Promise.all([signingKey("a"), signingKey("b"), signingKey("a")]);
  published = [keyA.jwk];
  jwks = http.createServer((_req, res) => {
    fetches++;
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: published }));
  });
  await new Promise<void>((resolve) => jwks.listen(0, "127.0.0.1", resolve));
  const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`;
  app = await TestApplication.start({
    servicers: [JwtProbe],
    // No cooldown: the rotation below is seen at once.
    tokenVerifier: jwtVerifier({ jwksUrl, issuer: ISSUER, audience: AUDIENCE, jwksCooldown: 0 }),
  });
  pemApp = await TestApplication.start({
    servicers: [JwtProbe],
    tokenVerifier: jwtVerifier({
      key: await pemOf(keyA),
      issuer: ISSUER,
      audience: [AUDIENCE, "other"],
      clockTolerance: "30s",
      claims: (payload) => ({ sub: payload.sub, roles: [payload.role] }),
    }),
  });
});

afterAll(async () => {
  await app?.stop();
  await pemApp?.stop();
  await new Promise((resolve) => jwks?.close(resolve));
});

async function pemOf(key: SigningKey): Promise<string> {
  return exportSPKI((await importJWK(key.jwk, "RS256", { extractable: true })) as CryptoKey);
}

/** The error a Probe.get with this bearer token fails with. */
async function refusalOf(on: TestApplication, bearerToken: string): Promise<ConnectError> {
  try {
    await Probe.ref("j").get(on.context({ bearerToken }));
  } catch (e) {
    return ConnectError.from(e);
  }
  throw new Error("the call was allowed");
}

describe("jwtVerifier with a JWKS URL", () => {
  it("a valid token: the authorizer sees its claims", async () => {
    await Probe.ref("j").get(app.context({ bearerToken: await token(keyA) }));
    expect(seen.get("alice")).toMatchObject({ sub: "alice", role: "admin", iss: ISSUER, aud: AUDIENCE });
  });

  it("refuses expired, not-yet-valid, wrong aud, wrong iss tokens as UNAUTHENTICATED saying why", async () => {
    const past = Math.floor(Date.now() / 1000) - 3600;
    const cases: [string, (j: SignJWT) => SignJWT, RegExp][] = [
      ["expired", (j) => j.setIssuedAt(past - 60).setExpirationTime(past), /"exp" claim timestamp check failed/],
      ["not yet valid", (j) => j.setNotBefore("10m"), /"nbf" claim timestamp check failed/],
      ["wrong audience", (j) => j.setAudience("someone-else"), /unexpected "aud" claim value/],
      ["wrong issuer", (j) => j.setIssuer("https://evil.test"), /unexpected "iss" claim value/],
    ];
    for (const [what, edit, message] of cases) {
      const e = await refusalOf(app, await token(keyA, edit, { sub: `bad-${what}` }));
      expect(e.code, what).toBe(Code.Unauthenticated);
      expect(e.rawMessage, what).toMatch(/^the bearer token is not valid: /);
      expect(e.rawMessage, what).toMatch(message);
      expect(seen.has(`bad-${what}`)).toBe(false);
    }
  });

  it("refuses a bad signature, an unknown kid, alg none and an HS256 token signed with the public key", async () => {
    const good = await token(keyA);
    const [h, p, s] = good.split(".") as [string, string, string];
    const flipped = `${h}.${p}.${s.slice(0, -2)}${s.endsWith("AA") ? "BB" : "AA"}`;
    // Same kid as keyA, another key: the signature does not verify.
    const forged = await token(stranger, undefined, { sub: "forged" });
    const unknownKid = await token({ ...stranger, kid: "nobody" }, undefined, { sub: "unknown-kid" });
    const none = `${b64({ alg: "none", typ: "JWT" })}.${b64({ sub: "none", iss: ISSUER, aud: AUDIENCE, exp: 9e9 })}.`;
    // The classic confusion: HMAC keyed with the (public) JWK's bytes.
    const hs = await new SignJWT({ sub: "hs" })
      .setProtectedHeader({ alg: "HS256", kid: "a" })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime("5m")
      .sign(createSecretKey(Buffer.from(JSON.stringify(keyA.jwk))));
    const expected: [string, RegExp][] = [
      [flipped, /signature verification failed/],
      [forged, /signature verification failed/],
      [unknownKid, /no applicable key found/],
      [none, /"alg" \(Algorithm\) Header Parameter value not allowed|Unsupported|not allowed/],
      [hs, /not allowed/],
      ["not-a-jwt", /Invalid Compact JWS/],
    ];
    for (const [bad, message] of expected) {
      const e = await refusalOf(app, bad);
      expect(e.code, bad).toBe(Code.Unauthenticated);
      expect(e.rawMessage, bad).toMatch(message);
    }
    for (const sub of ["forged", "unknown-kid", "none", "hs"]) expect(seen.has(sub)).toBe(false);
  });

  it("follows a key rotation: a token with a new kid refetches the JWKS", async () => {
    const before = fetches;
    published = [keyA.jwk, keyB.jwk];
    await Probe.ref("j").get(app.context({ bearerToken: await token(keyB, undefined, { sub: "rotated" }) }));
    expect(seen.get("rotated")).toMatchObject({ sub: "rotated" });
    expect(fetches).toBeGreaterThan(before);
  });
});

describe("jwtVerifier with one public key", () => {
  it("verifies with the PEM key and maps the payload through `claims`", async () => {
    await Probe.ref("j").get(pemApp.context({ bearerToken: await token(keyA, undefined, { sub: "pem", role: "ops" }) }));
    expect(seen.get("pem")).toEqual({ sub: "pem", roles: ["ops"] });
  });

  it("honours clockTolerance and refuses a token signed by another key", async () => {
    const justExpired = Math.floor(Date.now() / 1000) - 5;
    await Probe.ref("j").get(pemApp.context({ bearerToken: await token(keyA, (j) => j.setExpirationTime(justExpired), { sub: "tolerated" }) }));
    expect(seen.get("tolerated")).toBeDefined();
    expect((await refusalOf(pemApp, await token(keyB))).code).toBe(Code.Unauthenticated);
  });

  it("is refused at construction without exactly one of jwksUrl and key", () => {
    expect(() => jwtVerifier({ issuer: ISSUER, audience: AUDIENCE })).toThrow(/exactly one of jwksUrl or key/);
  });
});

function b64(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}
