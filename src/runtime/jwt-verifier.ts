import { KeyObject, createPublicKey, type JsonWebKey } from "node:crypto";
import { createRemoteJWKSet, errors, jwtVerify, type JWK, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { Unavailable, unauthenticated, type CallError } from "../api/errors.js";
import type { Claims, TokenVerifier } from "./authorization.js";
import { parseDuration } from "./duration.js";

/** The asymmetric JWS algorithms an identity provider signs with. HS* is left out on purpose. */
const ASYMMETRIC_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"];

export interface JwtVerifierOptions {
  /** The identity provider's JWKS, fetched and cached (refetched for an unknown `kid`). */
  jwksUrl?: string | URL;
  /**
   * Least time between two JWKS fetches (a token with an unknown `kid`
   * refetches, so this bounds what forged `kid`s cost the provider).
   * Default "30s".
   */
  jwksCooldown?: string | number;
  /** Or one public key: a PEM SPKI string, a JWK or a KeyObject. */
  key?: string | JWK | KeyObject;
  /** The expected `iss` (one of them). */
  issuer: string | readonly string[];
  /** The expected `aud` (one of them). */
  audience: string | readonly string[];
  /** Leeway for `exp` and `nbf`, e.g. "30s". Default none. */
  clockTolerance?: string | number;
  /** Accepted `alg` values. Default the asymmetric ones (RS*, PS*, ES*, EdDSA). */
  algorithms?: readonly string[];
  /** Maps the verified payload to the claims authorizers see. Default the payload itself. */
  claims?: (payload: JWTPayload) => Claims;
}

/**
 * Verifies JWTs from an identity provider (with `jose`): the signature by a
 * JWKS or a public key, `iss`, `aud`, `exp` and `nbf`. Unsigned tokens
 * (`alg: none`) and HMAC tokens (the HS-vs-RS key confusion) are refused.
 * A bad token is UNAUTHENTICATED saying why; a JWKS that cannot be fetched
 * is UNAVAILABLE (the caller may retry, the token may be fine).
 */
export function jwtVerifier(options: JwtVerifierOptions): TokenVerifier {
  const key = keyOf(options);
  const verifyOptions = {
    issuer: [options.issuer].flat(),
    audience: [options.audience].flat(),
    algorithms: [...(options.algorithms ?? ASYMMETRIC_ALGORITHMS)],
    clockTolerance: options.clockTolerance === undefined ? undefined : parseDuration(options.clockTolerance) / 1000,
  };
  const toClaims = options.claims ?? ((payload: JWTPayload) => payload as Claims);
  return async (token) => {
    let payload: JWTPayload;
    try {
      // (Two calls only because jose overloads on the key's kind.)
      ({ payload } = typeof key === "function" ? await jwtVerify(token, key, verifyOptions) : await jwtVerify(token, key, verifyOptions));
    } catch (e) {
      throw refusal(e);
    }
    return toClaims(payload);
  };
}

function keyOf(options: JwtVerifierOptions): JWTVerifyGetKey | KeyObject {
  if ((options.jwksUrl === undefined) === (options.key === undefined)) {
    throw new Error("jwtVerifier needs exactly one of jwksUrl or key");
  }
  if (options.jwksUrl !== undefined) {
    const cooldown = options.jwksCooldown === undefined ? undefined : parseDuration(options.jwksCooldown);
    return createRemoteJWKSet(new URL(options.jwksUrl), { cooldownDuration: cooldown });
  }
  const key = options.key!;
  if (typeof key === "string") return createPublicKey(key);
  const kind = key instanceof KeyObject ? key.type : key.kty === "oct" ? "secret" : "public";
  if (kind === "secret") throw new Error("jwtVerifier takes a public key; for a shared secret use hmacTokenVerifier");
  return key instanceof KeyObject ? key : createPublicKey({ key: key as JsonWebKey, format: "jwk" });
}

function refusal(e: unknown): CallError {
  if (e instanceof errors.JWKSTimeout || (e instanceof Error && !(e instanceof errors.JOSEError))) {
    return new Unavailable(`cannot verify the bearer token now: ${e.message}`, { cause: e });
  }
  const why = e instanceof errors.JOSEError ? e.message : String(e);
  return unauthenticated(`the bearer token is not valid: ${why}`);
}
