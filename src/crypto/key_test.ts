/** Session key derivation (§6.2): MD5 for 16-byte keys, two half-password MD5s for 32-byte keys. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { deriveKey } from "./key.ts";
import { md5 } from "./md5.ts";
import { toHex } from "../../test/vectors/vectors.ts";

const MD5_EMPTY = "d41d8cd98f00b204e9800998ecf8427e";
const MD5_A = "0cc175b9c0f1b6a831c399e269772661";
const MD5_ABC = "900150983cd24fb0d6963f7d28e17f72";

describe("deriveKey", () => {
  it("16 bytes: MD5(password)", () => {
    assert.equal(toHex(deriveKey("abc", 16)), MD5_ABC);
    assert.equal(toHex(deriveKey("", 16)), MD5_EMPTY);
  });

  it("32 bytes, even length: MD5 of each half", () => {
    assert.equal(toHex(deriveKey("abcabc", 32)), MD5_ABC + MD5_ABC);
    assert.equal(toHex(deriveKey("secretpw", 32)), toHex(md5("secr")) + toHex(md5("etpw")));
  });

  it("32 bytes, odd length: the second half is one byte longer", () => {
    assert.equal(toHex(deriveKey("aabc", 32).subarray(16)), toHex(md5("bc")));
    assert.equal(toHex(deriveKey("xabc", 32)), toHex(md5("xa")) + toHex(md5("bc")));
    assert.equal(toHex(deriveKey("aabcx", 32)), toHex(md5("aa")) + toHex(md5("bcx")));
    assert.equal(toHex(deriveKey("aabc", 32).subarray(0, 16)), toHex(md5("aa")));
    assert.equal(toHex(deriveKey("abc", 32)), MD5_A + toHex(md5("bc")));
  });

  it("32 bytes, 1-character password: MD5(\"\") then MD5 of the character", () => {
    assert.equal(toHex(deriveKey("a", 32)), MD5_EMPTY + MD5_A);
  });

  it("32 bytes, empty password: MD5(\"\") twice", () => {
    assert.equal(toHex(deriveKey("", 32)), MD5_EMPTY + MD5_EMPTY);
  });

  it("takes bytes as well as strings (a string as UTF-8)", () => {
    assert.deepEqual(deriveKey(new TextEncoder().encode("abc"), 16), deriveKey("abc", 16));
    assert.deepEqual(deriveKey("é", 32), new Uint8Array([...md5(Uint8Array.of(0xc3)), ...md5(Uint8Array.of(0xa9))]));
  });

  it("rejects other key sizes", () => {
    assert.throws(() => deriveKey("x", 24), RangeError);
  });
});
