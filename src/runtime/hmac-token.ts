import { createHmac, timingSafeEqual } from "node:crypto";
import type { Claims, TokenVerifier } from "./authorization.js";

/**
 * A minimal signed token: base64url(JSON claims) "." base64url(HMAC-SHA256).
 * Enough for services that share a secret; use a JWT library's verifier
 * (any function returning claims) for anything else.
 */
export function signHmacToken(claims: Claims, secret: string): string {
  const payload = Buffer.from(JSON.stringify(claims)).toString("base64url");
  return `${payload}.${mac(payload, secret)}`;
}

/** Verifies `signHmacToken` tokens, refusing any whose `exp` (epoch s) has passed. */
export function hmacTokenVerifier(secret: string): TokenVerifier {
  return (token) => {
    const [payload, signature, extra] = token.split(".");
    if (!payload || !signature || extra !== undefined) return undefined;
    const expected = Buffer.from(mac(payload, secret));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Claims;
    if (typeof claims.exp === "number" && claims.exp * 1000 < Date.now()) return undefined;
    return claims;
  };
}

function mac(payload: string, secret: string): string {
  return createHmac("sha256", secret).update(payload).digest("base64url");
}
