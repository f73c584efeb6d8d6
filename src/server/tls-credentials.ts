import { pemOf } from "../client/pem.js";
import type { TlsCredentials } from "../transport/server.js";

/** Each a PEM string or Buffer, or the path of a PEM file. */
export interface TlsOptions {
  cert: string | Buffer;
  key: string | Buffer;
}

/**
 * The credentials the port serves TLS with: the `tls` option, else the
 * files named by CAIRN_TLS_CERT and CAIRN_TLS_KEY, else none (cleartext).
 * Half a pair is a mistake, not cleartext.
 */
export function tlsCredentialsFrom(option: TlsOptions | undefined, env: NodeJS.ProcessEnv = process.env): TlsCredentials | undefined {
  const cert = option?.cert ?? env.CAIRN_TLS_CERT ?? undefined;
  const key = option?.key ?? env.CAIRN_TLS_KEY ?? undefined;
  if (cert === undefined && key === undefined) return undefined;
  if (!cert || !key) throw new Error("TLS needs both a certificate and a key (tls: { cert, key }, or CAIRN_TLS_CERT and CAIRN_TLS_KEY)");
  return { cert: pemOf(cert, "certificate"), key: pemOf(key, "key") };
}
