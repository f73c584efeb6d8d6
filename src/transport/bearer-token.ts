/** The token of an `authorization: Bearer …` header, if any. */
export function bearerTokenOf(header: Headers): string | undefined {
  return header.get("authorization")?.match(/^Bearer\s+(.+)$/i)?.[1];
}
