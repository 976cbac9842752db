/**
 * Block ciphers and modes against published vectors, for both backends (the
 * TypeScript implementations, and node:crypto where this runtime has the
 * cipher): FIPS-197 appendix C (AES-128/192/256), NIST SP 800-38A (AES ECB,
 * CBC, CFB128, OFB), Eric Young's Blowfish ECB and variable-key vectors
 * through the ECB context, and OpenSSL bftest's CBC/CFB64/OFB64 vectors. Each
 * chained vector is also fed in pieces, to check that the context continues
 * across update() calls like vtund's never-reset EVP context.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Aes } from "./aes.ts";
import { pureContext, type Mode, type ModeContext } from "./modes.ts";
import { nativeContext, nativeSupported, pureBlock } from "./native.ts";
import type { Algorithm } from "./ciphers.ts";
import { fromHex, toHex } from "../../test/vectors/vectors.ts";

type Backend = "pure" | "native";
const BACKENDS: readonly Backend[] = ["pure", "native"];

function context(backend: Backend, algorithm: Algorithm, key: Uint8Array, mode: Mode, encrypt: boolean, iv: Uint8Array | null): ModeContext {
  return backend === "pure"
    ? pureContext(pureBlock(algorithm, key), mode, encrypt, iv)
    : nativeContext(algorithm, key, mode, encrypt, iv);
}

/** Skip reason for the native backend when this runtime lacks the cipher. */
function skipFor(backend: Backend, algorithm: Algorithm, keyBytes: number, mode: Mode): string | false {
  if (backend === "pure" || nativeSupported(algorithm, keyBytes, mode)) return false;
  return `node:crypto here has no ${algorithm}-${keyBytes * 8}-${mode}`;
}

/** Runs `data` through `ctx` in the given piece sizes (whole blocks each). */
function run(ctx: ModeContext, data: Uint8Array, pieces: readonly number[]): Uint8Array {
  const out = new Uint8Array(data.length);
  let at = 0;
  for (const n of pieces) {
    ctx.update(data, at, n, out, at);
    at += n;
  }
  assert.equal(at, data.length, "pieces cover the data");
  return out;
}

describe("AES block (FIPS-197 appendix C)", () => {
  const plain = "00112233445566778899aabbccddeeff";
  const cases: readonly [string, string][] = [
    ["000102030405060708090a0b0c0d0e0f", "69c4e0d86a7b0430d8cdb78070b4c55a"],
    ["000102030405060708090a0b0c0d0e0f1011121314151617", "dda97ca4864cdfe06eaf70a0ec0d7191"],
    ["000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "8ea2b7ca516745bfeafc49904b496089"],
  ];
  for (const [key, cipher] of cases) {
    it(`AES-${key.length * 4} encrypts and decrypts the example block`, () => {
      const aes = new Aes(fromHex(key));
      const buf = fromHex(plain);
      aes.encryptBlock(buf, 0, buf, 0);
      assert.equal(toHex(buf), cipher);
      aes.decryptBlock(buf, 0, buf, 0);
      assert.equal(toHex(buf), plain);
    });
  }

  it("FIPS-197 appendix A.1 key (2b7e...) gives the SP 800-38A ECB block", () => {
    const out = new Uint8Array(16);
    new Aes(fromHex("2b7e151628aed2a6abf7158809cf4f3c")).encryptBlock(fromHex("6bc1bee22e409f96e93d7e117393172a"), 0, out, 0);
    assert.equal(toHex(out), "3ad77bb40d7a3660a89ecaf32466ef97");
  });

  it("rejects bad key lengths", () => {
    for (const n of [0, 8, 15, 17, 33]) assert.throws(() => new Aes(new Uint8Array(n)), RangeError);
  });

  it("works at offsets", () => {
    const aes = new Aes(fromHex("000102030405060708090a0b0c0d0e0f"));
    const buf = fromHex(`aaaa${plain}bbbb`);
    aes.encryptBlock(buf, 2, buf, 2);
    assert.equal(toHex(buf), "aaaa69c4e0d86a7b0430d8cdb78070b4c55abbbb");
  });
});

// NIST SP 800-38A appendix F.
const SP_IV = "000102030405060708090a0b0c0d0e0f";
const SP_PLAIN =
  "6bc1bee22e409f96e93d7e117393172a" + "ae2d8a571e03ac9c9eb76fac45af8e51" +
  "30c81c46a35ce411e5fbc1191a0a52ef" + "f69f2445df4f9b17ad2b417be66c3710";
const SP_KEY128 = "2b7e151628aed2a6abf7158809cf4f3c";
const SP_KEY256 = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4";
const SP_VECTORS: readonly { name: string; key: string; mode: Mode; cipher: string }[] = [
  {
    name: "F.1.1 ECB-AES128", key: SP_KEY128, mode: "ecb",
    cipher: "3ad77bb40d7a3660a89ecaf32466ef97" + "f5d3d58503b9699de785895a96fdbaaf" +
      "43b1cd7f598ece23881b00e3ed030688" + "7b0c785e27e8ad3f8223207104725dd4",
  },
  {
    name: "F.1.5 ECB-AES256", key: SP_KEY256, mode: "ecb",
    cipher: "f3eed1bdb5d2a03c064b5a7e3db181f8" + "591ccb10d410ed26dc5ba74a31362870" +
      "b6ed21b99ca6f4f9f153e7b1beafed1d" + "23304b7a39f9f3ff067d8d8f9e24ecc7",
  },
  {
    name: "F.2.1 CBC-AES128", key: SP_KEY128, mode: "cbc",
    cipher: "7649abac8119b246cee98e9b12e9197d" + "5086cb9b507219ee95db113a917678b2" +
      "73bed6b8e3c1743b7116e69e22229516" + "3ff1caa1681fac09120eca307586e1a7",
  },
  {
    name: "F.2.5 CBC-AES256", key: SP_KEY256, mode: "cbc",
    cipher: "f58c4c04d6e5f1ba779eabfb5f7bfbd6" + "9cfc4e967edb808d679f777bc6702c7d" +
      "39f23369a9d9bacfa530e26304231461" + "b2eb05e2c39be9fcda6c19078c6a9d1b",
  },
  {
    name: "F.3.13 CFB128-AES128", key: SP_KEY128, mode: "cfb",
    cipher: "3b3fd92eb72dad20333449f8e83cfb4a" + "c8a64537a0b3a93fcde3cdad9f1ce58b" +
      "26751f67a3cbb140b1808cf187a4f4df" + "c04b05357c5d1c0eeac4c66f9ff7f2e6",
  },
  {
    name: "F.3.17 CFB128-AES256", key: SP_KEY256, mode: "cfb",
    cipher: "dc7e84bfda79164b7ecd8486985d3860" + "39ffed143b28b1c832113c6331e5407b" +
      "df10132415e54b92a13ed0a8267ae2f9" + "75a385741ab9cef82031623d55b1e471",
  },
  {
    name: "F.4.1 OFB-AES128", key: SP_KEY128, mode: "ofb",
    cipher: "3b3fd92eb72dad20333449f8e83cfb4a" + "7789508d16918f03f53c52dac54ed825" +
      "9740051e9c5fecf64344f7a82260edcc" + "304c6528f659c77866a510d9c1d6ae5e",
  },
  {
    name: "F.4.5 OFB-AES256", key: SP_KEY256, mode: "ofb",
    cipher: "dc7e84bfda79164b7ecd8486985d3860" + "4febdc6740d20b3ac88f6ad82a4fb08d" +
      "71ab47a086e86eedf39d1c5bba97c408" + "0126141d67f37be8538f5a8be740e484",
  },
];

describe("AES modes (NIST SP 800-38A)", () => {
  for (const backend of BACKENDS) {
    for (const v of SP_VECTORS) {
      const key = fromHex(v.key);
      const skip = skipFor(backend, "aes", key.length, v.mode);
      it(`${v.name} (${backend})`, { skip }, () => {
        const iv = v.mode === "ecb" ? null : fromHex(SP_IV);
        const plain = fromHex(SP_PLAIN);
        for (const pieces of [[64], [16, 16, 16, 16], [32, 16, 16]]) {
          assert.equal(toHex(run(context(backend, "aes", key, v.mode, true, iv), plain, pieces)), v.cipher, `encrypt ${pieces}`);
          assert.equal(toHex(run(context(backend, "aes", key, v.mode, false, iv), fromHex(v.cipher), pieces)), SP_PLAIN, `decrypt ${pieces}`);
        }
      });
    }
  }
});

// OpenSSL bftest.c: key, IV and data of the CBC/CFB64/OFB64 tests (data = the
// string with its terminating NUL, 29 bytes; CBC pads it with zeros to 32).
const BF_KEY = "0123456789ABCDEFF0E1D2C3B4A59687";
const BF_IV = "FEDCBA9876543210";
const BF_DATA = toHex(new TextEncoder().encode("7654321 Now is the time for \0"));
const BF_MODE_VECTORS: readonly { mode: Mode; cipher: string }[] = [
  { mode: "cbc", cipher: "6B77B4D63006DEE605B156E27403979358DEB9E7154616D959F1652BD5FF92CC" },
  { mode: "cfb", cipher: "E73214A2822139CAF26ECF6D2EB9E76E3DA3DE04D1517200519D57A6C3" },
  { mode: "ofb", cipher: "E73214A2822139CA62B343CC5B65587310DD908D0C241B2263C2CF80DA" },
];

describe("Blowfish modes (OpenSSL bftest)", () => {
  for (const backend of BACKENDS) {
    for (const v of BF_MODE_VECTORS) {
      const skip = skipFor(backend, "blowfish", 16, v.mode);
      it(`${v.mode.toUpperCase()}${v.mode === "cbc" ? "" : "64"} (${backend})`, { skip }, () => {
        const key = fromHex(BF_KEY);
        const iv = fromHex(BF_IV);
        // Whole blocks only: zero-pad the 29 bytes to 32, compare the first 29 (CFB/OFB) or all 32 (CBC).
        const plain = new Uint8Array(32);
        plain.set(fromHex(BF_DATA));
        const want = v.cipher.toLowerCase();
        for (const pieces of [[32], [8, 8, 8, 8], [16, 16], [8, 24]]) {
          const out = run(context(backend, "blowfish", key, v.mode, true, iv), plain, pieces);
          assert.equal(toHex(out).slice(0, want.length), want, `encrypt ${pieces}`);
          if (v.mode === "cbc") {
            assert.deepEqual(run(context(backend, "blowfish", key, v.mode, false, iv), out, pieces), plain, `decrypt ${pieces}`);
          } else {
            const back = run(context(backend, "blowfish", key, v.mode, false, iv), out, pieces);
            assert.equal(toHex(back).slice(0, 58), BF_DATA, `decrypt ${pieces}`);
          }
        }
      });
    }
  }
});

describe("Blowfish ECB context (Eric Young's vectors)", () => {
  const vectors: readonly [string, string, string][] = [
    ["0000000000000000", "0000000000000000", "4EF997456198DD78"],
    ["FFFFFFFFFFFFFFFF", "FFFFFFFFFFFFFFFF", "51866FD5B85ECB8A"],
    ["0123456789ABCDEF", "1111111111111111", "61F9C3802281B096"],
    ["FEDCBA9876543210", "0123456789ABCDEF", "0ACEAB0FC6A0A28D"],
    ["F0E1D2C3B4A5968778695A4B3C2D1E0F", "FEDCBA9876543210", "93142887EE3BE15C"], // set_key vector, 16-byte key
    ["F0E1D2C3B4A5968778695A4B3C2D1E0F0011223344556677", "FEDCBA9876543210", "05044B62FA52D080"], // 24-byte key
  ];
  for (const backend of BACKENDS) {
    for (const [key, plain, cipher] of vectors) {
      const k = fromHex(key);
      const skip = skipFor(backend, "blowfish", k.length, "ecb");
      it(`key ${key} (${backend})`, { skip }, () => {
        const two = fromHex(plain + plain);
        assert.equal(toHex(run(context(backend, "blowfish", k, "ecb", true, null), two, [8, 8])).toUpperCase(), cipher + cipher);
        assert.equal(toHex(run(context(backend, "blowfish", k, "ecb", false, null), fromHex(cipher + cipher), [16])).toUpperCase(), plain + plain);
      });
    }
  }
});

describe("pure and native contexts agree on random data", () => {
  const combos = (["blowfish", "aes"] as const).flatMap((a) =>
    [16, 32].flatMap((k) => (["ecb", "cbc", "cfb", "ofb"] as const).map((m): [Algorithm, number, Mode] => [a, k, m]))
  );
  for (const [algorithm, keyBytes, mode] of combos) {
    const skip = skipFor("native", algorithm, keyBytes, mode);
    it(`${algorithm}-${keyBytes * 8}-${mode}`, { skip }, () => {
      const bs = algorithm === "aes" ? 16 : 8;
      const key = new Uint8Array(randomBytes(keyBytes));
      const iv = mode === "ecb" ? null : new Uint8Array(randomBytes(bs));
      const data = new Uint8Array(randomBytes(bs * 100));
      const pieces = [bs, 10 * bs, 37 * bs, 52 * bs];
      const a = run(context("pure", algorithm, key, mode, true, iv), data, pieces);
      const b = run(context("native", algorithm, key, mode, true, iv), data, [100 * bs]);
      assert.equal(toHex(a), toHex(b));
      assert.deepEqual(run(context("native", algorithm, key, mode, false, iv), a, pieces), data);
      assert.deepEqual(run(context("pure", algorithm, key, mode, false, iv), b, [100 * bs]), data);
    });
  }
});

describe("pure contexts in place", () => {
  for (const mode of ["ecb", "cbc", "cfb", "ofb"] as const) {
    it(`${mode}: src == dst and dst shifted left of src give the same bytes`, () => {
      const key = new Uint8Array(randomBytes(16));
      const iv = new Uint8Array(randomBytes(16));
      const data = new Uint8Array(randomBytes(160));
      for (const encrypt of [true, false]) {
        const want = run(pureContext(new Aes(key), mode, encrypt, iv), data, [160]);
        const same = data.slice();
        pureContext(new Aes(key), mode, encrypt, iv).update(same, 0, 160, same, 0);
        assert.deepEqual(same, want);
        const shifted = new Uint8Array(200);
        shifted.set(data, 40);
        pureContext(new Aes(key), mode, encrypt, iv).update(shifted, 40, 160, shifted, 8);
        assert.deepEqual(shifted.subarray(8, 168), want);
      }
    });
  }
});
