// The operator's token, kept in a cookie scoped to the inspector's path: the
// server reads it for the page itself (production), the page sends it as a
// bearer token on its calls. public/login.js writes the same cookie.
const COOKIE = "cairn_inspector_token";

export function storedToken(): string | undefined {
  for (const part of document.cookie.split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === COOKIE) return decodeURIComponent(value.join("=")) || undefined;
  }
  return undefined;
}

/** Keeps `token` (or forgets it, with "") and reloads, so every view starts over with it. */
export function saveToken(token: string): void {
  const secure = location.protocol === "https:" ? "; Secure" : "";
  const expiry = token === "" ? "; Max-Age=0" : "";
  document.cookie = `${COOKIE}=${encodeURIComponent(token)}; Path=/__/cairn/; SameSite=Strict${secure}${expiry}`;
  location.reload();
}
