import { readFileSync } from "node:fs";

/** PEM text as given inline, or read from the file it names (certificates, keys, CAs). */
export function pemOf(value: string | Buffer, what: string): string | Buffer {
  if (Buffer.isBuffer(value) || value.includes("-----BEGIN ")) return value;
  try {
    return readFileSync(value);
  } catch (e) {
    throw new Error(`cannot read the TLS ${what} file ${JSON.stringify(value)}: ${e instanceof Error ? e.message : String(e)}`);
  }
}
