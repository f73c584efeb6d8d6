import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tlsCredentialsFrom } from "./tls-credentials.js";

const dir = mkdtempSync(join(tmpdir(), "cairn-tls-spec-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const KEY = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";
const certFile = join(dir, "tls.crt");
const keyFile = join(dir, "tls.key");
writeFileSync(certFile, CERT);
writeFileSync(keyFile, KEY);

describe("tlsCredentialsFrom", () => {
  it("is cleartext (undefined) with neither option nor environment", () => {
    expect(tlsCredentialsFrom(undefined, {})).toBeUndefined();
  });

  it("takes PEM text as is and reads paths, from the option or CAIRN_TLS_CERT/KEY", () => {
    const fromOption = tlsCredentialsFrom({ cert: CERT, key: keyFile }, {});
    expect([fromOption?.cert, String(fromOption?.key)]).toEqual([CERT, KEY]);
    const fromEnv = tlsCredentialsFrom(undefined, { CAIRN_TLS_CERT: certFile, CAIRN_TLS_KEY: keyFile });
    expect([String(fromEnv?.cert), String(fromEnv?.key)]).toEqual([CERT, KEY]);
  });

  it("refuses half a pair and a file it cannot read, saying which", () => {
    expect(() => tlsCredentialsFrom(undefined, { CAIRN_TLS_CERT: certFile })).toThrow(/both a certificate and a key/);
    expect(() => tlsCredentialsFrom({ cert: certFile, key: join(dir, "missing.key") }, {})).toThrow(/cannot read the TLS key file .*missing\.key/);
  });
});
