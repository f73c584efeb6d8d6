import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { sha256, toBase64Url, toHex } from "./sha256.js";

const nodeHex = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex");

describe("sha256 (the browser's)", () => {
  it("matches the FIPS 180-4 test vectors", () => {
    expect(toHex(sha256(""))).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(toHex(sha256("abc"))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(toHex(sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))).toBe(
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    );
  });

  it("matches node:crypto at every length around the block and padding edges", () => {
    for (let n = 0; n <= 130; n++) {
      const data = randomBytes(n);
      expect(toHex(sha256(new Uint8Array(data))), `length ${n}`).toBe(nodeHex(data));
    }
  });

  it("hashes a string as UTF-8", () => {
    expect(toHex(sha256("café 🙂"))).toBe(nodeHex(Buffer.from("café 🙂", "utf8")));
  });

  it("hashes a megabyte like node:crypto", () => {
    const data = randomBytes(1 << 20);
    expect(toHex(sha256(new Uint8Array(data)))).toBe(nodeHex(data));
  });
});

describe("toBase64Url", () => {
  it("is unpadded base64url, as Node's digest('base64url')", () => {
    for (let n = 0; n <= 40; n++) {
      const data = randomBytes(n);
      expect(toBase64Url(new Uint8Array(data))).toBe(data.toString("base64url"));
    }
    expect(toBase64Url(new Uint8Array([0xfb, 0xff, 0xbf]))).toBe("-_-_");
  });
});
