/** The cipher table of §6.1 and the name/number mappings. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CIPHERS, cipherByName, cipherName, effectiveCipher, LEGACY_CIPHER } from "./ciphers.ts";

describe("cipher table", () => {
  it("has 1..16 and 999 with vtund's parameters", () => {
    assert.deepEqual([...CIPHERS.keys()], [...Array.from({ length: 16 }, (_, i) => i + 1), 999]);
    const row = (n: number) => {
      const c = CIPHERS.get(n)!;
      return `${c.name} ${c.algorithm} ${c.mode} ${c.blockSize} ${c.keyBytes} ${c.sideband} ${c.label}`;
    };
    assert.equal(row(1), "blowfish128ecb blowfish ecb 8 16 false Blowfish-128-ECB");
    assert.equal(row(2), "blowfish128cbc blowfish cbc 8 16 true Blowfish-128-CBC");
    assert.equal(row(3), "blowfish128cfb blowfish cfb 8 16 true Blowfish-128-CFB");
    assert.equal(row(4), "blowfish128ofb blowfish ofb 8 16 true Blowfish-128-OFB");
    assert.equal(row(5), "blowfish256ecb blowfish ecb 8 32 false Blowfish-256-ECB");
    assert.equal(row(8), "blowfish256ofb blowfish ofb 8 32 true Blowfish-256-OFB");
    assert.equal(row(9), "aes128ecb aes ecb 16 16 false AES-128-ECB");
    assert.equal(row(10), "aes128cbc aes cbc 16 16 true AES-128-CBC");
    assert.equal(row(11), "aes128cfb aes cfb 16 16 true AES-128-CFB");
    assert.equal(row(12), "aes128ofb aes ofb 16 16 true AES-128-OFB");
    assert.equal(row(13), "aes256ecb aes ecb 16 32 false AES-256-ECB");
    assert.equal(row(14), "aes256cbc aes cbc 16 32 true AES-256-CBC");
    assert.equal(row(15), "aes256cfb aes cfb 16 32 true AES-256-CFB");
    assert.equal(row(16), "aes256ofb aes ofb 16 32 true AES-256-OFB");
    assert.equal(row(999), "oldblowfish128ecb blowfish legacy 8 16 false Blowfish-128-ECB (vtun 2.x)");
    for (const [n, c] of CIPHERS) assert.equal(c.number, n);
  });

  it("maps names to numbers and back", () => {
    assert.equal(cipherByName("yes"), 1);
    assert.equal(cipherByName("aes128cbc"), 10);
    assert.equal(cipherByName("oldblowfish128ecb"), LEGACY_CIPHER);
    assert.equal(cipherByName("14"), 14);
    for (const [n, c] of CIPHERS) {
      assert.equal(cipherByName(c.name), n);
      assert.equal(cipherName(n), c.name);
    }
    for (const bad of ["no", "", "AES128CBC", "aes128", "17", "0", "blowfish128ecb "]) assert.equal(cipherByName(bad), undefined, bad);
    assert.equal(cipherName(0), undefined);
    assert.equal(cipherName(17), undefined);
  });

  it("unknown numbers run as Blowfish-128-ECB (vtund's default branch)", () => {
    assert.equal(effectiveCipher(17), 1);
    assert.equal(effectiveCipher(1234), 1);
    assert.equal(effectiveCipher(16), 16);
    assert.equal(effectiveCipher(999), 999);
  });
});
