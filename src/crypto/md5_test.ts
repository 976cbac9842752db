/**
 * MD5 (the password-to-key step of vtund's authentication): the RFC 1321
 * test suite, string and byte input, non-ASCII passwords as UTF-8, and the
 * runtime's node:crypto MD5 on every length around the padding boundaries.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { md5 } from "./md5.ts";
import { toHex } from "../../test/vectors/vectors.ts";

// RFC 1321, appendix A.5.
const RFC1321: readonly [string, string][] = [
  ["", "d41d8cd98f00b204e9800998ecf8427e"],
  ["a", "0cc175b9c0f1b6a831c399e269772661"],
  ["abc", "900150983cd24fb0d6963f7d28e17f72"],
  ["message digest", "f96b697d7cb7938d525a2f31aaf161d0"],
  ["abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"],
  ["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"],
  ["1234567890".repeat(8), "57edf4a22be3c955ac49da2e2107b67a"],
];

describe("md5", () => {
  for (const [input, digest] of RFC1321) {
    it(`MD5(${JSON.stringify(input.length > 20 ? `${input.slice(0, 20)}...` : input)}) = ${digest}`, () => {
      const out = md5(input);
      assert.ok(out instanceof Uint8Array);
      assert.equal(out.length, 16);
      assert.equal(toHex(out), digest);
      assert.equal(toHex(md5(new TextEncoder().encode(input))), digest, "same digest for bytes");
    });
  }

  it("hashes a string as UTF-8 bytes", () => {
    const password = "pässwörd€";
    assert.equal(toHex(md5(password)), toHex(md5(new TextEncoder().encode(password))));
    assert.notEqual(toHex(md5(password)), toHex(md5("passwrd")));
  });

  it("equals node:crypto's MD5 for every length 0..300 (padding boundaries at 55/56/64)", () => {
    const data = Uint8Array.from({ length: 300 }, (_, i) => (i * 151 + 7) & 0xff);
    for (let n = 0; n <= 300; n++) {
      const input = data.subarray(0, n);
      assert.equal(toHex(md5(input)), createHash("md5").update(input).digest("hex"), `length ${n}`);
    }
  });
});
