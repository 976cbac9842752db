/**
 * Blowfish: Eric Young's published ECB test vectors (all 34 of the fixed-key
 * set and the 24 variable-key-length ones from his set_key test), round trips
 * with the 16- and 32-byte keys vtund uses, spot checks of the pi tables,
 * comparison with node:crypto's "bf-ecb" when the runtime has a usable one,
 * the errors for bad key lengths and partial blocks, and the bulk paths
 * (encryptEcbInto/decryptEcbInto, chainEncryptInto, and the mode contexts
 * built on them) against the one-block-at-a-time path: random keys, lengths
 * around the four-block stride, offsets, in place and overlapping.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createCipheriv, getCipherInfo, getCiphers, randomBytes } from "node:crypto";
import { Blowfish } from "./blowfish.ts";
import { P_INIT, S_INIT } from "./blowfish_tables.ts";
import { Aes } from "./aes.ts";
import { pureContext, type BlockCipher, type Mode } from "./modes.ts";
import { fromHex, toHex } from "../../test/vectors/vectors.ts";

// Eric Young's Blowfish ECB vectors (libdes/SSLeay bftest, also published on
// Schneier's site as vectors.txt): key, plaintext, ciphertext.
const ECB_VECTORS: readonly [string, string, string][] = [
  ["0000000000000000", "0000000000000000", "4EF997456198DD78"],
  ["FFFFFFFFFFFFFFFF", "FFFFFFFFFFFFFFFF", "51866FD5B85ECB8A"],
  ["3000000000000000", "1000000000000001", "7D856F9A613063F2"],
  ["1111111111111111", "1111111111111111", "2466DD878B963C9D"],
  ["0123456789ABCDEF", "1111111111111111", "61F9C3802281B096"],
  ["1111111111111111", "0123456789ABCDEF", "7D0CC630AFDA1EC7"],
  ["FEDCBA9876543210", "0123456789ABCDEF", "0ACEAB0FC6A0A28D"],
  ["7CA110454A1A6E57", "01A1D6D039776742", "59C68245EB05282B"],
  ["0131D9619DC1376E", "5CD54CA83DEF57DA", "B1B8CC0B250F09A0"],
  ["07A1133E4A0B2686", "0248D43806F67172", "1730E5778BEA1DA4"],
  ["3849674C2602319E", "51454B582DDF440A", "A25E7856CF2651EB"],
  ["04B915BA43FEB5B6", "42FD443059577FA2", "353882B109CE8F1A"],
  ["0113B970FD34F2CE", "059B5E0851CF143A", "48F4D0884C379918"],
  ["0170F175468FB5E6", "0756D8E0774761D2", "432193B78951FC98"],
  ["43297FAD38E373FE", "762514B829BF486A", "13F04154D69D1AE5"],
  ["07A7137045DA2A16", "3BDD119049372802", "2EEDDA93FFD39C79"],
  ["04689104C2FD3B2F", "26955F6835AF609A", "D887E0393C2DA6E3"],
  ["37D06BB516CB7546", "164D5E404F275232", "5F99D04F5B163969"],
  ["1F08260D1AC2465E", "6B056E18759F5CCA", "4A057A3B24D3977B"],
  ["584023641ABA6176", "004BD6EF09176062", "452031C1E4FADA8E"],
  ["025816164629B007", "480D39006EE762F2", "7555AE39F59B87BD"],
  ["49793EBC79B3258F", "437540C8698F3CFA", "53C55F9CB49FC019"],
  ["4FB05E1515AB73A7", "072D43A077075292", "7A8E7BFA937E89A3"],
  ["49E95D6D4CA229BF", "02FE55778117F12A", "CF9C5D7A4986ADB5"],
  ["018310DC409B26D6", "1D9D5C5018F728C2", "D1ABB290658BC778"],
  ["1C587F1C13924FEF", "305532286D6F295A", "55CB3774D13EF201"],
  ["0101010101010101", "0123456789ABCDEF", "FA34EC4847B268B2"],
  ["1F1F1F1F0E0E0E0E", "0123456789ABCDEF", "A790795108EA3CAE"],
  ["E0FEE0FEF1FEF1FE", "0123456789ABCDEF", "C39E072D9FAC631D"],
  ["0000000000000000", "FFFFFFFFFFFFFFFF", "014933E0CDAFF6E4"],
  ["FFFFFFFFFFFFFFFF", "0000000000000000", "F21E9A77B71C49BC"],
  ["0123456789ABCDEF", "0000000000000000", "245946885754369A"],
  ["FEDCBA9876543210", "FFFFFFFFFFFFFFFF", "6B5C5A9C5D9E0A5A"],
];

// Eric Young's variable key length vectors: plaintext FEDCBA9876543210 under
// the first 1, 2, ..., 24 bytes of this key.
const VARKEY_KEY = "F0E1D2C3B4A5968778695A4B3C2D1E0F0011223344556677";
const VARKEY_PLAINTEXT = "FEDCBA9876543210";
const VARKEY_CIPHERTEXTS: readonly string[] = [
  "F9AD597C49DB005E", "E91D21C1D961A6D6", "E9C2B70A1BC65CF3", "BE1E639408640F05",
  "B39E44481BDB1E6E", "9457AA83B1928C0D", "8BB77032F960629D", "E87A244E2CC85E82",
  "15750E7A4F4EC577", "122BA70B3AB64AE0", "3A833C9AFFC537F6", "9409DA87A90F6BF2",
  "884F80625060B8B4", "1F85031C19E11968", "79D9373A714CA34F", "93142887EE3BE15C",
  "03429E838CE2D14B", "A4299E27469FF67B", "AFD5AED1C1BC96A8", "10851C0E3858DA9F",
  "E6F51ED79B9DB21F", "64A6E14AFD36B46F", "80C7D7D45A5479AD", "05044B62FA52D080",
];

const hex = (bytes: Uint8Array) => toHex(bytes).toUpperCase();

/**
 * node:crypto's Blowfish-ECB, if this runtime has a working one (Bun does;
 * Node and Deno on OpenSSL 3 only with the legacy provider), else the reason.
 */
function nodeBlowfish(): ((key: Uint8Array, data: Uint8Array) => Uint8Array) | string {
  if (!getCiphers().includes("bf-ecb")) return "node:crypto does not list bf-ecb";
  // OpenSSL wants no IV for ECB; Bun's BoringSSL reports (and demands) 8 bytes.
  const ivLength = getCipherInfo("bf-ecb")?.ivLength ?? 0;
  const encrypt = (key: Uint8Array, data: Uint8Array): Uint8Array => {
    const c = createCipheriv("bf-ecb", key, ivLength > 0 ? new Uint8Array(ivLength) : null);
    c.setAutoPadding(false);
    const out = Buffer.concat([c.update(data), c.final()]);
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  };
  try {
    encrypt(new Uint8Array(16), new Uint8Array(8));
  } catch (e) {
    return `node:crypto bf-ecb is not usable here: ${(e as Error).message}`;
  }
  return encrypt;
}

const nodeBf = nodeBlowfish();
if (typeof nodeBf === "string") console.log(`blowfish_test: skipping the node:crypto comparison: ${nodeBf}`);

describe("Blowfish tables", () => {
  it("have 18 P words and 4 x 256 S words, all unsigned 32-bit", () => {
    assert.equal(P_INIT.length, 18);
    assert.equal(S_INIT.length, 1024);
    for (const w of [...P_INIT, ...S_INIT]) assert.ok(Number.isInteger(w) && w >= 0 && w <= 0xffffffff, `bad word ${w}`);
  });

  it("start with the hex digits of pi", () => {
    // pi = 3.243F6A88 85A308D3 13198A2E 03707344 ...
    assert.deepEqual(P_INIT.slice(0, 4), [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344]);
    assert.equal(P_INIT[17], 0x8979fb1b);
    assert.equal(S_INIT[0], 0xd1310ba6);
    assert.equal(S_INIT[256], 0x4b7a70e9);
    assert.equal(S_INIT[512], 0xe93d5a68);
    assert.equal(S_INIT[768], 0x3a39ce37);
    assert.equal(S_INIT[1023], 0x3ac372e6);
  });
});

describe("Blowfish ECB", () => {
  for (const [key, plain, cipher] of ECB_VECTORS) {
    it(`key ${key} encrypts ${plain} to ${cipher} and back`, () => {
      const bf = new Blowfish(fromHex(key));
      assert.equal(hex(bf.encryptEcb(fromHex(plain))), cipher);
      assert.equal(hex(bf.decryptEcb(fromHex(cipher))), plain);
    });
  }

  it("handles every key length from 1 to 24 bytes (variable key vectors)", () => {
    const full = fromHex(VARKEY_KEY);
    VARKEY_CIPHERTEXTS.forEach((cipher, i) => {
      const bf = new Blowfish(full.subarray(0, i + 1));
      assert.equal(hex(bf.encryptEcb(fromHex(VARKEY_PLAINTEXT))), cipher, `key length ${i + 1}`);
      assert.equal(hex(bf.decryptEcb(fromHex(cipher))), VARKEY_PLAINTEXT, `key length ${i + 1}`);
    });
  });

  it("encrypts each 8-byte block on its own (ECB)", () => {
    const bf = new Blowfish(fromHex("0123456789ABCDEF"));
    // Three published blocks under the same key, in one call.
    const out = bf.encryptEcb(fromHex("1111111111111111" + "0000000000000000" + "1111111111111111"));
    assert.equal(hex(out), "61F9C3802281B096" + "245946885754369A" + "61F9C3802281B096");
  });

  it("encryptBlock/decryptBlock work at offsets and in place", () => {
    const bf = new Blowfish(fromHex("FEDCBA9876543210"));
    const buf = fromHex("AAAA" + "0123456789ABCDEF" + "BBBB");
    bf.encryptBlock(buf, 2, buf, 2);
    assert.equal(hex(buf), "AAAA" + "0ACEAB0FC6A0A28D" + "BBBB");
    const out = new Uint8Array(8);
    bf.decryptBlock(buf, 2, out, 0);
    assert.equal(hex(out), "0123456789ABCDEF");
    bf.decryptBlock(buf, 2, buf, 2);
    assert.equal(hex(buf), "AAAA" + "0123456789ABCDEF" + "BBBB");
  });

  for (const keyLength of [16, 32]) {
    it(`round-trips random data with random ${keyLength}-byte keys`, () => {
      for (let round = 0; round < 20; round++) {
        const key = new Uint8Array(randomBytes(keyLength));
        const data = new Uint8Array(randomBytes(8 * (1 + round)));
        const bf = new Blowfish(key);
        const sealed = bf.encryptEcb(data);
        assert.equal(sealed.length, data.length);
        assert.notDeepEqual(sealed, data);
        assert.deepEqual(bf.decryptEcb(sealed), data, `key ${toHex(key)}`);
        // A fresh schedule of the same key decrypts too (no state carried between blocks).
        assert.deepEqual(new Blowfish(key).decryptEcb(sealed), data);
      }
    });
  }

  it("gives different ciphertexts for keys that differ in their last byte (all 32 bytes are used)", () => {
    const key = new Uint8Array(randomBytes(32));
    const other = key.slice();
    other[31] = other[31]! ^ 1;
    const block = new Uint8Array(8);
    assert.notDeepEqual(new Blowfish(key).encryptEcb(block), new Blowfish(other).encryptEcb(block));
  });

  it("leaves its input untouched and returns an empty array for empty input", () => {
    const bf = new Blowfish(fromHex("0123456789ABCDEF"));
    const data = fromHex("1111111111111111");
    bf.encryptEcb(data);
    assert.equal(hex(data), "1111111111111111");
    assert.equal(bf.encryptEcb(new Uint8Array(0)).length, 0);
  });

  describe("against node:crypto bf-ecb", () => {
    const skip = typeof nodeBf === "string" ? nodeBf : false;
    it("agrees on the first published vector (sanity check of the reference)", { skip }, () => {
      assert.ok(typeof nodeBf !== "string");
      assert.equal(hex(nodeBf(fromHex("0123456789ABCDEF"), fromHex("1111111111111111"))), "61F9C3802281B096");
    });
    for (const keyLength of [16, 32]) {
      it(`agrees for random ${keyLength}-byte keys`, { skip }, () => {
        assert.ok(typeof nodeBf !== "string");
        for (let round = 0; round < 25; round++) {
          const key = new Uint8Array(randomBytes(keyLength));
          const data = new Uint8Array(randomBytes(64));
          assert.equal(toHex(new Blowfish(key).encryptEcb(data)), toHex(nodeBf(key, data)), `key ${toHex(key)}`);
        }
      });
    }
  });

  describe("errors", () => {
    it("rejects keys of 0 or more than 72 bytes", () => {
      assert.throws(() => new Blowfish(new Uint8Array(0)), RangeError);
      assert.throws(() => new Blowfish(new Uint8Array(73)), RangeError);
      assert.doesNotThrow(() => new Blowfish(new Uint8Array(1)));
      assert.doesNotThrow(() => new Blowfish(new Uint8Array(72)));
    });

    it("rejects ECB input that is not a multiple of 8 bytes", () => {
      const bf = new Blowfish(new Uint8Array(16));
      for (const n of [1, 7, 9, 15, 17]) {
        assert.throws(() => bf.encryptEcb(new Uint8Array(n)), RangeError, `encrypt ${n}`);
        assert.throws(() => bf.decryptEcb(new Uint8Array(n)), RangeError, `decrypt ${n}`);
      }
    });
  });
});

/** The block cipher without its bulk methods: pureContext then runs its one-block-at-a-time loops. */
function perBlockOnly(bf: Blowfish): BlockCipher {
  return {
    blockSize: 8,
    encryptBlock: (src, srcAt, dst, dstAt) => bf.encryptBlock(src, srcAt, dst, dstAt),
    decryptBlock: (src, srcAt, dst, dstAt) => bf.decryptBlock(src, srcAt, dst, dstAt),
  };
}

/** `n` bytes through the per-block path, block by block, into a new array. */
function perBlock(bf: Blowfish, encrypt: boolean, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let at = 0; at < data.length; at += 8) {
    if (encrypt) bf.encryptBlock(data, at, out, at);
    else bf.decryptBlock(data, at, out, at);
  }
  return out;
}

// Around the four-block stride of the bulk path (1..5 blocks, 7, 9), a
// vtund-sized packet and a full 1500-byte MTU's worth.
const BULK_LENGTHS = [0, 8, 16, 24, 32, 40, 56, 72, 200, 1400, 1504];

describe("Blowfish bulk ECB (encryptEcbInto/decryptEcbInto)", () => {
  it("gives the published vectors, like the per-block path", () => {
    for (const [key, plain, cipher] of ECB_VECTORS) {
      const bf = new Blowfish(fromHex(key));
      const out = new Uint8Array(8);
      bf.encryptBlock(fromHex(plain), 0, out, 0);
      assert.equal(hex(out), cipher, `per-block encrypt, key ${key}`);
      bf.decryptBlock(fromHex(cipher), 0, out, 0);
      assert.equal(hex(out), plain, `per-block decrypt, key ${key}`);
      const buf = fromHex(plain);
      bf.encryptEcbInto(buf, 0, 8, buf, 0);
      assert.equal(hex(buf), cipher, `bulk encrypt, key ${key}`);
      bf.decryptEcbInto(buf, 0, 8, buf, 0);
      assert.equal(hex(buf), plain, `bulk decrypt, key ${key}`);
    }
  });

  for (const keyLength of [16, 32]) {
    it(`equals the per-block path for random ${keyLength}-byte keys, at offsets, in place or not`, () => {
      for (let round = 0; round < 4; round++) {
        const key = new Uint8Array(randomBytes(keyLength));
        const bf = new Blowfish(key);
        for (const n of BULK_LENGTHS) {
          const data = new Uint8Array(randomBytes(n));
          for (const encrypt of [true, false]) {
            const want = perBlock(bf, encrypt, data);
            const run = encrypt ? bf.encryptEcbInto.bind(bf) : bf.decryptEcbInto.bind(bf);
            const what = `${encrypt ? "encrypt" : "decrypt"} ${n} bytes, key ${toHex(key)}`;
            // Not in place: source at offset 5, destination at offset 11; bytes around untouched.
            const src = new Uint8Array(n + 9).fill(0xa5);
            src.set(data, 5);
            const dst = new Uint8Array(n + 20).fill(0x5a);
            run(src, 5, n, dst, 11);
            assert.equal(toHex(dst.subarray(11, 11 + n)), toHex(want), what);
            assert.ok(dst.subarray(0, 11).every((b) => b === 0x5a) && dst.subarray(11 + n).every((b) => b === 0x5a), `${what}: outside the range`);
            assert.equal(toHex(src.subarray(5, 5 + n)), toHex(data), `${what}: source untouched`);
            // In place, at offset 3 of a view that itself starts at byte 13 of its buffer.
            const whole = new Uint8Array(n + 40).fill(0x77);
            const view = whole.subarray(13, 13 + n + 10);
            view.set(data, 3);
            run(view, 3, n, view, 3);
            assert.equal(toHex(view.subarray(3, 3 + n)), toHex(want), `${what}: in place`);
            assert.ok(whole.subarray(0, 16).every((b) => b === 0x77) && whole.subarray(16 + n).every((b) => b === 0x77), `${what}: in place, outside the range`);
          }
        }
      }
    });
  }

  it("handles a destination that starts before the source in the same buffer (the pipeline's overlap)", () => {
    const bf = new Blowfish(new Uint8Array(randomBytes(16)));
    for (const n of BULK_LENGTHS) {
      for (const shift of [1, 4, 8, 13, 32, 40]) {
        for (const encrypt of [true, false]) {
          const data = new Uint8Array(randomBytes(n));
          const buf = new Uint8Array(n + 64);
          buf.set(data, 48);
          if (encrypt) bf.encryptEcbInto(buf, 48, n, buf, 48 - shift);
          else bf.decryptEcbInto(buf, 48, n, buf, 48 - shift);
          assert.equal(toHex(buf.subarray(48 - shift, 48 - shift + n)), toHex(perBlock(bf, encrypt, data)), `${n} bytes shifted by ${shift}`);
        }
      }
    }
  });

  it("switches between buffers: packet buffers that alternate, views of one buffer, pooled Buffers", () => {
    const bf = new Blowfish(new Uint8Array(randomBytes(16)));
    const a = new Uint8Array(randomBytes(64));
    const b = new Uint8Array(randomBytes(64));
    const big = new Uint8Array(randomBytes(512));
    // Node's small Buffers are views into a shared pool (byteOffset > 0).
    const pooled = Buffer.from(randomBytes(40));
    const inputs = [a, b, a, big.subarray(8, 72), big.subarray(120, 184), b, pooled, a.subarray(16, 40)];
    for (const input of inputs) {
      const out = new Uint8Array(input.length);
      bf.encryptEcbInto(input, 0, input.length, out, 0);
      assert.equal(toHex(out), toHex(perBlock(bf, true, input)));
      const back = big.subarray(300, 300 + input.length);
      bf.decryptEcbInto(out, 0, out.length, back, 0);
      assert.equal(toHex(back), toHex(input));
    }
  });

  it("keeps keys apart when instances with different keys take turns (Bun reads S-boxes from shared tables)", () => {
    const ciphers = [16, 32, 16].map((n) => new Blowfish(new Uint8Array(randomBytes(n))));
    for (let turn = 0; turn < 12; turn++) {
      const bf = ciphers[(turn * 7) % ciphers.length]!;
      const data = new Uint8Array(randomBytes(8 * (1 + turn * 5)));
      const encrypt = turn % 2 === 0;
      const out = new Uint8Array(data.length);
      if (encrypt) bf.encryptEcbInto(data, 0, data.length, out, 0);
      else bf.decryptEcbInto(data, 0, data.length, out, 0);
      assert.equal(toHex(out), toHex(perBlock(bf, encrypt, data)), `turn ${turn}`);
    }
    // A new instance made after another one's tables were loaded.
    const late = new Blowfish(fromHex(ECB_VECTORS[1]![0]));
    const buf = fromHex(ECB_VECTORS[1]![1]);
    late.encryptEcbInto(buf, 0, 8, buf, 0);
    assert.equal(hex(buf), ECB_VECTORS[1]![2]);
  });

  it("rejects partial blocks and ranges outside either array, before writing anything", () => {
    const bf = new Blowfish(new Uint8Array(16));
    const src = new Uint8Array(64).fill(1);
    const dst = new Uint8Array(64).fill(2);
    const bad: readonly [number, number, number][] = [
      [0, 7, 0], [0, 12, 0], [-8, 16, 0], [0, 16, -8], [56, 16, 0], [0, 16, 56], [0, 72, 0], [0, -8, 0],
    ];
    for (const [srcAt, length, dstAt] of bad) {
      assert.throws(() => bf.encryptEcbInto(src, srcAt, length, dst, dstAt), RangeError, `encrypt ${srcAt} ${length} ${dstAt}`);
      assert.throws(() => bf.decryptEcbInto(src, srcAt, length, dst, dstAt), RangeError, `decrypt ${srcAt} ${length} ${dstAt}`);
      assert.throws(() => bf.chainEncryptInto("cbc", new Uint8Array(8), src, srcAt, length, dst, dstAt), RangeError, `cbc ${srcAt} ${length} ${dstAt}`);
    }
    assert.ok(dst.every((x) => x === 2), "nothing written");
    assert.throws(() => bf.chainEncryptInto("ofb", new Uint8Array(7), src, 0, 8, dst, 0), RangeError, "short register");
    assert.doesNotThrow(() => bf.encryptEcbInto(src, 64, 0, dst, 64), "empty range at the end");
  });
});

describe("Blowfish bulk chained modes (chainEncryptInto and the CBC/CFB decryption built on bulk ECB)", () => {
  /** Runs `data` through `ctx`-making `make` in the given pieces, in place in a buffer at `at` or into a separate one. */
  function run(
    make: () => { update(src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): void },
    data: Uint8Array,
    pieces: readonly number[],
    layout: "separate" | "in place" | "shifted",
  ): Uint8Array {
    const ctx = make();
    const buf = new Uint8Array(data.length + 48);
    buf.set(data, 24);
    const out = layout === "separate" ? new Uint8Array(data.length + 7) : buf;
    const outAt = layout === "separate" ? 7 : layout === "in place" ? 24 : 16;
    let at = 0;
    for (const n of pieces) {
      ctx.update(buf, 24 + at, n, out, outAt + at);
      at += n;
    }
    return out.slice(outAt, outAt + data.length);
  }

  const MODES: readonly Exclude<Mode, "ecb">[] = ["cbc", "cfb", "ofb"];
  for (const keyLength of [16, 32]) {
    for (const mode of MODES) {
      it(`${mode}, random ${keyLength}-byte keys: bulk contexts equal the per-block ones, across updates`, () => {
        for (let round = 0; round < 3; round++) {
          const key = new Uint8Array(randomBytes(keyLength));
          const iv = new Uint8Array(randomBytes(8));
          const bf = new Blowfish(key);
          const ref = perBlockOnly(bf);
          for (const n of [8, 16, 40, 200, 1400]) {
            const data = new Uint8Array(randomBytes(n));
            // Updates continue the chain: also cut the data into pieces (whole blocks).
            const cuts = [[n], n >= 24 ? [8, n - 16, 8] : [n], n >= 40 ? [16, 24, n - 40] : [n]].map((p) => p.filter((x) => x > 0));
            for (const encrypt of [true, false]) {
              const want = run(() => pureContext(ref, mode, encrypt, iv), data, [n], "separate");
              for (const pieces of cuts) {
                for (const layout of ["separate", "in place", "shifted"] as const) {
                  const got = run(() => pureContext(bf, mode, encrypt, iv), data, pieces, layout);
                  assert.equal(toHex(got), toHex(want), `${mode} ${encrypt ? "encrypt" : "decrypt"} ${n} bytes as ${pieces}, ${layout}, key ${toHex(key)}`);
                }
              }
            }
          }
        }
      });
    }
  }

  it("chainEncryptInto leaves the next feedback in the register", () => {
    const bf = new Blowfish(new Uint8Array(randomBytes(16)));
    const data = new Uint8Array(randomBytes(48));
    for (const mode of MODES) {
      const reg = new Uint8Array(randomBytes(8));
      const iv = reg.slice();
      const whole = new Uint8Array(48);
      bf.chainEncryptInto(mode, reg, data, 0, 48, whole, 0);
      const split = new Uint8Array(48);
      const reg2 = iv.slice();
      bf.chainEncryptInto(mode, reg2, data, 0, 16, split, 0);
      bf.chainEncryptInto(mode, reg2, data, 16, 32, split, 16);
      assert.equal(toHex(split), toHex(whole), mode);
      assert.equal(toHex(reg2), toHex(reg), `${mode}: register`);
      // CBC and CFB feed back the last ciphertext block.
      if (mode !== "ofb") assert.equal(toHex(reg), toHex(whole.subarray(40, 48)), `${mode}: register is the last block`);
    }
  });
});

describe("bulk CBC/CFB decryption with 16-byte blocks (the generic part of modes.ts)", () => {
  // No 16-byte cipher has bulk methods today; a shim gives AES a bulk ECB made
  // of its block calls, so that the 4-word XOR pass of modes.ts is checked too.
  function aesWithBulkEcb(aes: Aes): BlockCipher {
    const each = (encrypt: boolean) => (src: Uint8Array, srcAt: number, length: number, dst: Uint8Array, dstAt: number): void => {
      for (let i = 0; i < length; i += 16) {
        if (encrypt) aes.encryptBlock(src, srcAt + i, dst, dstAt + i);
        else aes.decryptBlock(src, srcAt + i, dst, dstAt + i);
      }
    };
    return {
      blockSize: 16,
      encryptBlock: (src, srcAt, dst, dstAt) => aes.encryptBlock(src, srcAt, dst, dstAt),
      decryptBlock: (src, srcAt, dst, dstAt) => aes.decryptBlock(src, srcAt, dst, dstAt),
      encryptEcbInto: each(true),
      decryptEcbInto: each(false),
    };
  }
  for (const mode of ["cbc", "cfb"] as const) {
    it(`${mode}: equals AES's per-block context, across updates, in place and shifted`, () => {
      const aes = new Aes(new Uint8Array(randomBytes(16)));
      const iv = new Uint8Array(randomBytes(16));
      const data = new Uint8Array(randomBytes(160));
      const want = new Uint8Array(160);
      pureContext(aes, mode, false, iv).update(data, 0, 160, want, 0);
      for (const [outAt, pieces] of [[0, [160]], [24, [16, 64, 80]], [9, [48, 112]]] as const) {
        const buf = new Uint8Array(200);
        buf.set(data, 24);
        const ctx = pureContext(aesWithBulkEcb(aes), mode, false, iv);
        let at = 0;
        for (const n of pieces) {
          ctx.update(buf, 24 + at, n, buf, outAt + at);
          at += n;
        }
        assert.equal(toHex(buf.subarray(outAt, outAt + 160)), toHex(want), `output at ${outAt}, pieces ${pieces}`);
      }
    });
  }
});
